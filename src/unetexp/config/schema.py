"""Config schema (Hydra structured configs) and the checks that run before TensorFlow loads.

The dataclasses type every key; `validate` turns values that cannot build or train a model
into one-line `ConfigError`s naming the key and what is allowed.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, List, Optional

from omegaconf import DictConfig, OmegaConf

from unetexp.errors import ConfigError

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


@dataclass
class ModelConfig:
    depth: int = 3  # pooling levels
    convs: int = 1  # 3x3 convs per level, encoder and decoder
    upsample: str = "transpose"  # transpose | upsampling
    transpose_kernel: int = 2  # Conv2DTranspose kernel (ignored by upsampling)
    bottleneck: int = 128  # filters of the bottleneck conv
    dropout: float = 0.0  # after the last encoder level and the bottleneck
    deep_supervision: bool = False  # extra 1x1 heads at 1/2 and 1/4 resolution


@dataclass
class LossConfig:
    name: str = "bce"  # bce | dice | bce_dice
    alpha: float = 0.5  # bce weight in bce_dice
    # deep supervision: weights of the heads output1 (full), output2 (1/2), output3 (1/4)
    head_weights: List[float] = field(default_factory=lambda: [1.0, 0.5, 0.25])


@dataclass
class DataConfig:
    name: str = "pets"  # pets | npz | seed_npy | synthetic
    root: Optional[str] = None  # data root; null = $UNETEXP_DATA_DIR, else <project>/data
    path: Optional[str] = None  # npz file (pets: <root>/oxford_pets_64_red.npz)
    images: Optional[str] = None  # seed_npy: data64_red.npy
    masks: Optional[str] = None  # seed_npy: mask64_red.npy
    size: int = 64  # synthetic: image side (files bring their own)
    count: int = 200  # synthetic: number of image/mask pairs
    test_fraction: float = 0.2
    val_fraction: float = 0.0  # > 0: separate validation split carved from train
    stratify: Optional[str] = None  # null = random split; breed = same breed shares in every split
    download: bool = False  # pets: download the official archives on first use (needs internet)


@dataclass
class EarlyStoppingConfig:
    """keras.callbacks.EarlyStopping; off in the ablation tables, on in the final models."""

    enabled: bool = False
    monitor: str = "val_loss"  # an epoch metric name (MONITOR_CHOICES)
    patience: int = 10
    min_delta: float = 1e-6
    restore_best_weights: bool = True


@dataclass
class ReduceLRConfig:
    """keras.callbacks.ReduceLROnPlateau; off in the ablation tables, on in the final models."""

    enabled: bool = False
    monitor: str = "val_loss"
    factor: float = 0.5
    patience: int = 5
    min_delta: float = 1e-4  # Keras's default
    min_lr: float = 0.0


@dataclass
class TrainConfig:
    epochs: int = 10  # the most epochs; early stopping may end sooner
    batch_size: int = 8
    lr: float = 1e-3
    optimizer: str = "adam"
    deterministic: bool = True  # TF op determinism: same seed, same metrics on CPU
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    reduce_lr: ReduceLRConfig = field(default_factory=ReduceLRConfig)
    save_model: bool = False  # log the trained model as model.keras (final experiments: true)
    intra_op_threads: int = 0  # TensorFlow threads per op; 0 = TF default (all cores)
    inter_op_threads: int = 0  # TensorFlow ops run at once; 0 = TF default


@dataclass
class TrackingConfig:
    uri: Optional[str] = None  # null = $MLFLOW_TRACKING_URI, else sqlite in <project>/mlruns
    experiment: str = "unetexp"
    run_name: Optional[str] = None  # null = derived from the model and loss
    sweep: Optional[str] = None  # set by sweeps/<name>.yaml: tags the parent run


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    seed: int = 0
    force: bool = False  # retrain even when a FINISHED run has the same config


# keys that say how to run or where to log, not what is trained: outside config_hash
NOT_HASHED = ("tracking.", "force", "train.intra_op_threads", "train.inter_op_threads")


def register_configs() -> None:
    """Register the schema (extended by conf/config.yaml) and the sweeps of sweeps/ as the
    groups `sweep` (+sweep=depth) and `row` (+row=d4, the twelve configs of tables 1-5)."""
    from hydra.core.config_store import ConfigStore

    from unetexp.config.paths import sweeps_dir

    store = ConfigStore.instance()
    store.store(name="unetexp_schema", node=Config)
    for path in sorted(sweeps_dir().glob("*.yaml")):
        node = OmegaConf.load(path)
        if path.stem == "rows":
            for name, row in node.items():
                store.store(group="row", name=str(name), node=row, package="_global_")
        else:
            store.store(group="sweep", name=path.stem, node=node, package="_global_")


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
    if d.name == "synthetic":  # file sizes are checked on load (unetexp.data.load.check_depth)
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


def flatten(cfg: DictConfig | dict, prefix: str = "") -> dict[str, Any]:
    """Every leaf as `a.b.c: value`, the names MLflow params use."""
    node = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg
    out: dict[str, Any] = {}
    for key, value in node.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, prefix=f"{name}."))
        else:
            out[name] = value
    return out


def config_hash(cfg: DictConfig) -> str:
    """Stable hash of what is trained (seed included): same hash, same experiment."""
    leaves = {k: v for k, v in flatten(cfg).items() if not k.startswith(NOT_HASHED)}
    return hashlib.sha256(json.dumps(leaves, sort_keys=True, default=str).encode()).hexdigest()[:16]
