"""The checks that run before TensorFlow loads: values that cannot build or train a model
become one-line `ConfigError`s naming the key and what is allowed."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig

from unetexp.errors import ConfigError

if TYPE_CHECKING:
    from unetexp.config.schema import Config

UPSAMPLE_CHOICES = ("transpose", "upsampling")
LOSS_CHOICES = ("bce", "dice", "bce_dice")
DATA_CHOICES = ("pets", "npz", "seed_npy", "synthetic")
STRATIFY_CHOICES = ("breed",)
OPTIMIZER_CHOICES = ("adam", "sgd", "rmsprop")
# what callbacks may watch: the epoch metrics MLflow shows (for a deep-supervision model these
# are the full-resolution head's), and for such a model also Keras's own per-head names
EPOCH_METRICS = ("loss", "accuracy", "dice", "iou")
MONITOR_CHOICES = tuple(f"{p}{m}" for p in ("val_", "") for m in EPOCH_METRICS)


def deep_monitor_choices(depth: int) -> tuple[str, ...]:
    """Also `val_loss_total` (all heads) and Keras's per-head names of the heads that exist."""
    heads = range(1, min(depth, 3) + 1)
    return ("val_loss_total", "loss_total") + tuple(
        f"{p}output{h}_{m}" for p in ("val_", "") for h in heads for m in EPOCH_METRICS)


def _need(ok: bool, key: str, allowed: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"{key}={value!r} is invalid: {allowed}")


def validate(cfg: DictConfig | Config) -> None:
    """Reject any config that cannot build, train or evaluate a model, before TF is imported."""
    m, loss, d, t = cfg.model, cfg.loss, cfg.data, cfg.train
    _need(m.depth >= 1, "model.depth", "must be an integer >= 1 (the study used 1..5)", m.depth)
    _need(m.convs >= 1, "model.convs", "must be an integer >= 1 (the study used 1..3)", m.convs)
    _need(m.upsample in UPSAMPLE_CHOICES, "model.upsample",
          f"must be one of {', '.join(UPSAMPLE_CHOICES)}", m.upsample)
    _need(m.transpose_kernel >= 1, "model.transpose_kernel", "must be an integer >= 1",
          m.transpose_kernel)
    _need(m.bottleneck >= 2 ** m.depth and m.bottleneck % 2 ** m.depth == 0, "model.bottleneck",
          f"must be a positive multiple of 2**model.depth = {2 ** m.depth}", m.bottleneck)
    _need(0.0 <= m.dropout < 1.0, "model.dropout", "must be in [0, 1)", m.dropout)
    if d.name == "synthetic":  # a file's size is checked once loaded (experiment.check_image_size)
        check_depth(m.depth, d.size, "data.size")
    _need(loss.name in LOSS_CHOICES, "loss.name", f"must be one of {', '.join(LOSS_CHOICES)}",
          loss.name)
    _need(0.0 <= loss.alpha <= 1.0, "loss.alpha", "must be in [0, 1]", loss.alpha)
    _need(d.name in DATA_CHOICES, "data.name", f"must be one of {', '.join(DATA_CHOICES)}", d.name)
    _need(d.size >= 2, "data.size", "must be an integer >= 2", d.size)
    _need(d.count >= 4, "data.count", "must be an integer >= 4", d.count)
    _need(0.0 < d.test_fraction < 1.0, "data.test_fraction", "must be in (0, 1)", d.test_fraction)
    _need(0.0 <= d.val_fraction < 1.0, "data.val_fraction", "must be in [0, 1)", d.val_fraction)
    _need(d.stratify is None or d.stratify in STRATIFY_CHOICES, "data.stratify",
          f"must be null or one of {', '.join(STRATIFY_CHOICES)}", d.stratify)
    if d.name == "npz":
        _need(bool(d.path), "data.path", "data=npz needs data.path=FILE.npz", d.path)
    if d.name == "seed_npy":
        _need(bool(d.images) and bool(d.masks), "data.images/data.masks",
              "data=seed_npy needs data.images=FILE.npy and data.masks=FILE.npy",
              (d.images, d.masks))
    _need(t.epochs >= 1, "train.epochs", "must be an integer >= 1", t.epochs)
    _need(t.batch_size >= 1, "train.batch_size", "must be an integer >= 1", t.batch_size)
    _need(t.lr > 0, "train.lr", "must be > 0", t.lr)
    _need(t.optimizer in OPTIMIZER_CHOICES, "train.optimizer",
          f"must be one of {', '.join(OPTIMIZER_CHOICES)}", t.optimizer)
    for key in ("intra_op_threads", "inter_op_threads"):
        threads = getattr(t, key)
        _need(threads >= 0, f"train.{key}", "must be an integer >= 0 (0: TensorFlow's default)",
              threads)
    _need(not cfg.tracking.register_model or t.save_model, "tracking.register_model",
          "registers the logged model: it needs train.save_model=true", cfg.tracking.register_model)
    _validate_deep_supervision(m, loss)
    _validate_callbacks(t, m.deep_supervision, m.depth)


def _validate_deep_supervision(m, loss) -> None:
    weights = list(loss.head_weights)
    _need(len(weights) == 3 and all(w >= 0 for w in weights) and weights[0] > 0,
          "loss.head_weights", "must be 3 weights >= 0 (output1, output2, output3), the first > 0",
          weights)
    if m.deep_supervision:
        _need(m.depth >= 2, "model.deep_supervision",
              "needs model.depth >= 2 (the extra heads sit at 1/2 and 1/4 resolution)",
              m.deep_supervision)


def _validate_callbacks(t, deep: bool, depth: int) -> None:
    allowed = MONITOR_CHOICES + (deep_monitor_choices(depth) if deep else ())
    shown = ", ".join(MONITOR_CHOICES) + (
        ", val_loss_total, val_output1_loss (and other val_outputN_*)" if deep else "")
    for key in ("early_stopping", "reduce_lr"):
        c = getattr(t, key)
        if not c.enabled:
            continue
        _need(c.monitor in allowed, f"train.{key}.monitor", f"must be one of {shown}", c.monitor)
        _need(c.patience >= 0, f"train.{key}.patience", "must be an integer >= 0", c.patience)
        _need(c.min_delta >= 0, f"train.{key}.min_delta", "must be >= 0", c.min_delta)
    r = t.reduce_lr
    if r.enabled:
        _need(0.0 < r.factor < 1.0, "train.reduce_lr.factor", "must be in (0, 1)", r.factor)
        _need(r.min_lr >= 0, "train.reduce_lr.min_lr", "must be >= 0", r.min_lr)


def check_depth(depth: int, size: int, source: str) -> None:
    """The encoder halves the image `depth` times: size must be divisible by 2**depth."""
    if size % 2 ** depth:
        max_depth = 0
        while size % 2 ** (max_depth + 1) == 0:
            max_depth += 1
        raise ConfigError(
            f"model.depth={depth} is too deep for {size}x{size} images from {source}: "
            f"the size must be divisible by 2**depth (allowed depth: 1..{max_depth})")
