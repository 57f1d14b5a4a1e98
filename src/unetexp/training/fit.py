"""Training and evaluation of one configured U-Net with Keras `fit`.

The only module of the train path that imports TensorFlow; it knows nothing of Hydra or
MLflow: per-epoch metrics go to the `on_epoch` callable the caller passes.
"""
from __future__ import annotations

import ctypes
import gc
import logging
import os
import sys
import time
import types
from dataclasses import dataclass, field
from typing import Any, Callable


def _import_tensorflow_quietly() -> None:
    """TensorFlow's C++ core prints INFO lines (oneDNN, CUDA drivers) while it loads, before
    TF_CPP_MIN_LOG_LEVEL applies: keep the terminal readable by muting stderr for the import.
    Set TF_CPP_MIN_LOG_LEVEL=0 to see everything."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules or os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0":
        import tensorflow  # noqa: F401
        return
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_import_tensorflow_quietly()

import keras  # noqa: E402

from unetexp.data.load import Splits  # noqa: E402
from unetexp.training.losses import make_loss, make_metrics  # noqa: E402
from unetexp.training.evaluation import pixel_report, report_metrics  # noqa: E402
from unetexp.training.model import build_from_config, count_params  # noqa: E402

log = logging.getLogger(__name__)

EPOCH_KEYS = ("loss", "accuracy", "dice", "iou", "val_loss", "val_accuracy", "val_dice", "val_iou")
OPTIMIZERS = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
              "rmsprop": keras.optimizers.RMSprop}
FULL_HEAD = "output1"  # the full-resolution head of a deep-supervision model


@dataclass
class Result:
    model: keras.Model
    n_params: int
    train_time_s: float
    epochs_run: int
    history: dict[str, list[float]]  # flat epoch metric names (see `flat_metrics`) and lr
    test: dict[str, float]  # test_loss, test_accuracy, test_dice, test_iou, test_<class>_<score>
    report: dict = field(default_factory=dict)  # classification report (scikit-learn dict)
    best_epoch: int = 0  # from 1: the restored weights' epoch, else the lowest val_loss
    probabilities: Any = None  # test-set predictions of the full-resolution head (N, H, W, 1)


def set_threads(intra: int, inter: int, label: str = "") -> bool:
    """TensorFlow's thread pools (`train.intra_op_threads`, `train.inter_op_threads`; 0 = its
    default). They can only be sized before the first op of the process: each job of a parallel
    launcher is a fresh process and gets them; in a sequential multirun the first job's sizes stay,
    and a later job asking for others is told so, not failed. Returns whether they apply."""
    import tensorflow as tf

    threading = tf.config.threading
    wanted = {"intra_op_threads": intra, "inter_op_threads": inter}
    current = {"intra_op_threads": threading.get_intra_op_parallelism_threads(),
               "inter_op_threads": threading.get_inter_op_parallelism_threads()}
    if wanted != current:
        try:
            threading.set_intra_op_parallelism_threads(intra)
            threading.set_inter_op_parallelism_threads(inter)
        except RuntimeError:  # "... cannot be modified after initialization"
            log.warning("%strain.intra_op_threads=%d, train.inter_op_threads=%d not applied: "
                        "TensorFlow already runs with %d, %d in this process", label, intra,
                        inter, current["intra_op_threads"], current["inter_op_threads"])
            return False
    if intra or inter:
        log.info("%sTensorFlow threads: %d intra-op, %d inter-op (0: its default)", label,
                 threading.get_intra_op_parallelism_threads(),
                 threading.get_inter_op_parallelism_threads())
    return True


def release_memory() -> None:
    """Collect the previous job's garbage now and hand glibc's free heap back to the system,
    so that a sequential multirun does not grow job after job (no-op off glibc)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def seed_everything(seed: int, deterministic: bool) -> None:
    """Fresh Keras state, then one seed for Python, numpy and TensorFlow."""
    keras.backend.clear_session()  # free the previous job's graph in a multirun
    release_memory()
    keras.utils.set_random_seed(seed)
    if deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def flat_metrics(logs: dict, deep: bool) -> dict[str, float]:
    """Keras's epoch (or evaluate) logs under the names MLflow shows.

    A plain model keeps `loss`, `accuracy`, `dice`, `iou` (and `val_*`). For a deep-supervision
    model the same names carry the full-resolution head's values (Keras's `output1_*`), so
    that runs compare like with like; the weighted sum of the heads' losses becomes
    `loss_total`, and the side heads keep Keras's names (`output2_loss`, `val_output3_dice`).
    """
    logs = {k: float(v) for k, v in (logs or {}).items()}
    if not deep:
        return {k: v for k, v in logs.items() if k in EPOCH_KEYS}
    out = {}
    for key, value in logs.items():
        prefix = "val_" if key.startswith("val_") else ""
        base = key[len(prefix):]
        if base == "loss":
            out[f"{prefix}loss_total"] = value
        elif base.startswith(f"{FULL_HEAD}_"):
            out[prefix + base[len(FULL_HEAD) + 1:]] = value
        elif base.startswith(("output2_", "output3_")):
            out[key] = value
    return out


def keras_monitor(name: str, deep: bool) -> str:
    """The Keras log key behind a monitored metric name (the flat names of `flat_metrics`)."""
    if not deep or name.startswith(("output", "val_output")):
        return name
    if name.endswith("loss_total"):
        return name[: -len("_total")]  # val_loss_total -> Keras's val_loss (weighted sum)
    prefix = "val_" if name.startswith("val_") else ""
    return f"{prefix}{FULL_HEAD}_{name[len(prefix):]}"  # val_loss -> val_output1_loss


def _mode(name: str) -> str:
    return "min" if name.endswith(("loss", "loss_total")) else "max"


def make_callbacks(train_cfg, deep: bool = False) -> list[keras.callbacks.Callback]:
    """EarlyStopping and ReduceLROnPlateau as `train.early_stopping` / `train.reduce_lr` say
    (none when both are disabled, as in the ablation tables)."""
    callbacks: list[keras.callbacks.Callback] = []
    es, rl = train_cfg.early_stopping, train_cfg.reduce_lr
    if es.enabled:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=keras_monitor(es.monitor, deep), mode=_mode(es.monitor),
            patience=es.patience, min_delta=es.min_delta,
            restore_best_weights=es.restore_best_weights))
    if rl.enabled:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor=keras_monitor(rl.monitor, deep), mode=_mode(rl.monitor),
            factor=rl.factor, patience=rl.patience, min_delta=rl.min_delta, min_lr=rl.min_lr))
    return callbacks


def head_targets(masks, n_heads: int) -> list:
    """Deep-supervision targets: the masks, then resized to 1/2 and 1/4 with nearest neighbour
    (`tf.image.resize(method="nearest")`, as the study did)."""
    import numpy as np
    import tensorflow as tf

    height, width = masks.shape[1:3]
    targets = [masks]
    for level in range(1, n_heads):
        size = (height // 2 ** level, width // 2 ** level)
        targets.append(np.asarray(tf.image.resize(masks, size, method="nearest")))
    return targets


class EpochReporter(keras.callbacks.Callback):
    """One log line per epoch, and the epoch's metrics (with the learning rate the epoch used)
    to `on_epoch`; keeps the history under the flat names. Goes first among the callbacks, so
    the learning rate is read before ReduceLROnPlateau changes it."""

    def __init__(self, epochs: int, label: str, on_epoch: Callable[[int, dict], None] | None,
                 deep: bool = False):
        super().__init__()
        self.epochs, self.label, self.on_epoch, self.deep = epochs, label, on_epoch, deep
        self.history: dict[str, list[float]] = {}
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        metrics = flat_metrics(logs, self.deep)
        metrics["lr"] = float(self.model.optimizer.learning_rate.numpy())
        for key, value in metrics.items():
            self.history.setdefault(key, []).append(value)
        shown = "  ".join(f"{k} {metrics[k]:.4f}" for k in EPOCH_KEYS if k in metrics)
        log.info("%sepoch %d/%d  %s  lr %.2g  (%.1fs)", self.label, epoch + 1, self.epochs,
                 shown, metrics["lr"], time.perf_counter() - self._start)
        if self.on_epoch:
            self.on_epoch(epoch + 1, metrics)


def best_epoch(history: dict[str, list[float]], callbacks: list) -> int:
    """From 1: early stopping's best epoch (the restored weights' one when it restores them),
    else the epoch with the lowest validation loss."""
    for callback in callbacks:
        if isinstance(callback, keras.callbacks.EarlyStopping) and callback.best is not None:
            return int(callback.best_epoch) + 1
    values = history.get("val_loss") or [0.0]
    return int(min(range(len(values)), key=values.__getitem__)) + 1


def compile_model(model: keras.Model, cfg, deep: bool) -> None:
    """Optimizer, loss and metrics; a deep-supervision model gets one loss per head (weights
    `loss.head_weights`) and the metrics on every head."""
    optimizer = OPTIMIZERS[cfg.train.optimizer](learning_rate=cfg.train.lr)
    if not deep:
        model.compile(optimizer=optimizer, loss=make_loss(cfg.loss.name, cfg.loss.alpha),
                      metrics=make_metrics())
        return
    heads = list(model.output_names)
    weights = list(cfg.loss.head_weights)
    model.compile(
        optimizer=optimizer,
        loss={h: make_loss(cfg.loss.name, cfg.loss.alpha) for h in heads},
        loss_weights={h: float(weights[i]) for i, h in enumerate(heads)},
        metrics={h: make_metrics() for h in heads},
    )


def prepare_optimizer(model: keras.Model) -> None:
    """Two changes that keep a sequential multirun from growing job after job, with the same
    numbers (a test compares the weights with stock Keras's):
    - the slot variables are created now, eagerly: left to the first training step, they are
      created under `tf.cond`s whose graphs outlive `clear_session()` (88 for Adam at depth 3);
    - on one device the updates take Keras's generic loop (`BaseOptimizer._backend_update_step`)
      instead of the TensorFlow backend's override, which Keras keeps "to support
      tf.distribute" and which keeps every job's traced train step alive after
      `clear_session()` (~10 MB a job; keras-team/keras#20552)."""
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)
    import tensorflow as tf

    if tf.distribute.has_strategy():  # several devices: keep Keras's tf.distribute path
        return
    try:
        from keras.src.optimizers.base_optimizer import BaseOptimizer
    except ImportError:  # another Keras layout: the leak stays, a test says so
        return
    optimizer._backend_update_step = types.MethodType(BaseOptimizer._backend_update_step, optimizer)


def train_and_evaluate(cfg, splits: Splits, on_epoch=None, label: str = "") -> Result:
    """Build, compile and fit the model `cfg` describes, then evaluate it on the test split."""
    set_threads(cfg.train.intra_op_threads, cfg.train.inter_op_threads, label)
    seed_everything(cfg.seed, cfg.train.deterministic)
    model = build_from_config(cfg.model, splits.x_train.shape[1:])
    n_heads = len(model.outputs)
    deep = n_heads > 1
    compile_model(model, cfg, deep)
    prepare_optimizer(model)

    def targets(masks):
        return head_targets(masks, n_heads) if deep else masks

    reporter = EpochReporter(cfg.train.epochs, label, on_epoch, deep)
    callbacks = make_callbacks(cfg.train, deep)
    start = time.perf_counter()
    model.fit(
        splits.x_train, targets(splits.y_train),
        validation_data=(splits.x_val, targets(splits.y_val)),
        epochs=cfg.train.epochs,
        batch_size=cfg.train.batch_size,
        shuffle=True,
        verbose=0,
        callbacks=[reporter, *callbacks],
    )
    train_time = time.perf_counter() - start
    scores = model.evaluate(splits.x_test, targets(splits.y_test), batch_size=cfg.train.batch_size,
                            verbose=0, return_dict=True)
    test = {f"test_{k}": v for k, v in flat_metrics(scores, deep).items()}
    probabilities = model.predict(splits.x_test, batch_size=cfg.train.batch_size, verbose=0)
    if deep:
        probabilities = probabilities[0]
    report = pixel_report(splits.y_test, probabilities)
    test.update(report_metrics(report))
    return Result(
        model=model,
        n_params=count_params(model),
        train_time_s=train_time,
        epochs_run=len(reporter.history.get("loss", [])),
        history=reporter.history,
        test=test,
        report=report,
        best_epoch=best_epoch(reporter.history, callbacks),
        probabilities=probabilities,
    )
