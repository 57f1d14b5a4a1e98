"""Config schema (Hydra structured configs) and the checks that run before TensorFlow loads.

The dataclasses type every key; `validate` turns values that cannot build or train a model
into one-line `ConfigError`s naming the key and what is allowed.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import DictConfig, OmegaConf

from unetexp.errors import ConfigError

UPSAMPLE_CHOICES = ("transpose", "upsampling")
LOSS_CHOICES = ("bce", "dice", "bce_dice")
DATA_CHOICES = ("pets", "npz", "seed_npy", "synthetic")
OPTIMIZER_CHOICES = ("adam", "sgd", "rmsprop")


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


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 8
    lr: float = 1e-3
    optimizer: str = "adam"
    deterministic: bool = True  # TF op determinism: same seed, same metrics on CPU
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

    from unetexp.paths import sweeps_dir

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
    if d.name == "synthetic":  # file sizes are checked on load (unetexp.data.check_depth)
        check_depth(m.depth, d.size, "data.size")
    _need(loss.name in LOSS_CHOICES, "loss.name", f"must be one of {', '.join(LOSS_CHOICES)}",
          loss.name)
    _need(0.0 <= loss.alpha <= 1.0, "loss.alpha", "must be in [0, 1]", loss.alpha)
    _need(d.name in DATA_CHOICES, "data.name", f"must be one of {', '.join(DATA_CHOICES)}", d.name)
    _need(d.size >= 2, "data.size", "must be an integer >= 2", d.size)
    _need(d.count >= 4, "data.count", "must be an integer >= 4", d.count)
    _need(0.0 < d.test_fraction < 1.0, "data.test_fraction", "must be in (0, 1)", d.test_fraction)
    _need(0.0 <= d.val_fraction < 1.0, "data.val_fraction", "must be in [0, 1)", d.val_fraction)
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
