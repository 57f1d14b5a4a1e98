"""The test split's scores and predictions from one eager pass: what `model.evaluate` and
`model.predict` gave, without tracing a predict function and without a second pass over the
test set (about a second of every job's fixed cost, benchmarks/README.md). Imports Keras on
the process's backend."""

from __future__ import annotations

import numpy as np

from unetexp.training.losses import make_loss, make_metrics
from unetexp.training.runtime import keras

# images per eager forward call (the same numbers at any size): 16 keeps a depth-1 U-Net's
# activations to ~75 MiB above the job's peak, where 64 raised the peak by ~400 MiB (+35 %
# over a plain Keras script); 8 would add ~0.3 s of Python per call at depth 5
CHUNK = 16


def _forward(model: keras.Model, x: np.ndarray) -> list[np.ndarray]:
    """Every head's probabilities for `x`, in inference mode (no dropout), chunk by chunk."""
    parts = [model(x[i : i + CHUNK], training=False) for i in range(0, len(x), CHUNK)]
    heads = [p if isinstance(p, (list, tuple)) else [p] for p in parts]
    to_numpy = keras.ops.convert_to_numpy  # any backend's tensor (PyTorch's: detached first)
    return [np.concatenate([to_numpy(h[k]) for h in heads]) for k in range(len(heads[0]))]


def score(
    model: keras.Model, cfg, x: np.ndarray, targets: list[np.ndarray], batch_size: int
) -> tuple[dict[str, float], np.ndarray]:
    """Loss and metrics under Keras's `evaluate(return_dict=True)` names (`loss`, `accuracy`,
    ...; a deep-supervision model's `output1_loss`, `output2_dice`, ...) and the full-resolution
    head's probabilities. As Keras does: each batch of `batch_size` gets its loss (a
    batch-level Dice loss depends on the batching), averaged weighted by batch size; the
    metrics accumulate over every batch."""
    outputs = _forward(model, x)
    deep = len(outputs) > 1
    names = list(model.output_names) if deep else [""]
    weights = list(cfg.loss.head_weights) if deep else [1.0]
    losses = [make_loss(cfg.loss.name, cfg.loss.alpha) for _ in names]
    metrics = [make_metrics() for _ in names]
    sums = np.zeros(len(names) + 1)  # weighted sum of the heads' losses, then each head's
    for start in range(0, len(x), batch_size):
        size = min(batch_size, len(x) - start)
        total = 0.0
        for k, (loss, head_metrics) in enumerate(zip(losses, metrics, strict=False)):
            truth, predicted = (a[start : start + size] for a in (targets[k], outputs[k]))
            value = float(loss(truth, predicted))
            sums[k + 1] += value * size
            total += weights[k] * value
            for metric in head_metrics:
                metric.update_state(truth, predicted)
        sums[0] += total * size
    scores = {"loss": sums[0] / len(x)}
    for k, (name, head_metrics) in enumerate(zip(names, metrics, strict=False)):
        prefix = f"{name}_" if deep else ""
        if deep:
            scores[f"{prefix}loss"] = sums[k + 1] / len(x)
        scores.update({prefix + m.name: float(m.result()) for m in head_metrics})
    return scores, outputs[0]
