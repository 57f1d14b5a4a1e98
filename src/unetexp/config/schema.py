"""Config schema: Hydra structured configs that type every key of conf/, and which keys
are the factors of the study's tables. Checks live in `validation`, the hash in `hashing`."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from omegaconf import OmegaConf

FACTOR = {"factor": True}  # field metadata: a key a table varies (export, compare, report)


def factor(default):
    """A field that the study's tables vary: it gets a column in exports and comparisons."""
    return field(default=default, metadata=FACTOR)


@dataclass
class ModelConfig:
    """Every model key is a factor: a new knob appears in exports, compare and report."""

    depth: int = 3  # pooling levels
    convs: int = 1  # 3x3 convs per level, encoder and decoder
    upsample: str = "transpose"  # transpose | upsampling
    transpose_kernel: int = 2  # Conv2DTranspose kernel (ignored by upsampling)
    bottleneck: int = 128  # filters of the bottleneck conv
    dropout: float = 0.0  # after the last encoder level and the bottleneck
    deep_supervision: bool = False  # extra 1x1 heads at 1/2 and 1/4 resolution


@dataclass
class LossConfig:
    name: str = factor("bce")  # bce | dice | bce_dice
    alpha: float = factor(0.5)  # bce weight in bce_dice
    # deep supervision: weights of the heads output1 (full), output2 (1/2), output3 (1/4)
    head_weights: list[float] = field(default_factory=lambda: [1.0, 0.5, 0.25])


@dataclass
class DataConfig:
    name: str = factor("pets_real")  # pets_real | pets | npz | seed_npy | folder | synthetic
    root: str | None = None  # data root; null = $UNETEXP_DATA_DIR, else <project>/data
    path: str | None = None  # npz file (pets: <root>/oxford_pets_64_red.npz)
    images: str | None = None  # seed_npy: data64_red.npy; folder: the images' folder
    masks: str | None = None  # seed_npy: mask64_red.npy; folder: the masks' folder
    mask_values: list[int] | None = None  # folder: the object's mask values (null: {0,1}, {0,255})
    strict: bool = False  # folder: stop at the first unusable pair instead of skipping it
    size: int = 64  # synthetic, folder: image side (files bring their own)
    count: int = 200  # synthetic: number of image/mask pairs
    test_fraction: float = 0.2
    val_fraction: float = 0.0  # > 0: separate validation split carved from train
    stratify: str | None = None  # null = random split; breed = same breed shares in every split
    # pets: a missing study file is built on first use, its archives downloaded first unless false
    download: bool = True


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
    epochs: int = factor(10)  # the most epochs; early stopping may end sooner
    batch_size: int = factor(8)
    lr: float = factor(1e-3)
    optimizer: str = factor("adam")
    # training-time augmentation of image and mask alike: none | flip | flip+shift (the
    # ablation tables keep none; training/augment.py)
    augment: str = factor("none")
    deterministic: bool = True  # TF op determinism: same seed, same metrics on CPU
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    reduce_lr: ReduceLRConfig = field(default_factory=ReduceLRConfig)
    save_model: bool = False  # log the trained model as an MLflow model (final experiments: true)
    intra_op_threads: int = 0  # TensorFlow threads per op; 0 = TF default (all cores)
    inter_op_threads: int = 0  # TensorFlow ops run at once; 0 = TF default
    backend: str = "tensorflow"  # Keras backend: tensorflow | jax | torch (docs/backends.md)
    precision: str = "float32"  # Keras dtype policy: float32 | mixed_float16 | mixed_bfloat16
    resume: bool = True  # keep the training state every epoch; a killed run resumes from it
    checkpoint_dir: str | None = None  # null: next to a SQLite store, else <project>/checkpoints


@dataclass
class TrackingConfig:
    uri: str | None = None  # null = $MLFLOW_TRACKING_URI, else sqlite in <project>/mlruns
    experiment: str = "unetexp"
    run_name: str | None = None  # null = derived from the model and loss
    sweep: str | None = None  # set by sweeps/<name>.yaml: tags the parent run
    register_model: str | None = None  # Model Registry name (final experiments: theirs)
    heartbeat_s: float = 30.0  # a running job's heartbeat tag, every so many seconds
    stale_after_s: float = 300.0  # a RUNNING run of another host silent that long is dead
    retry_s: float = 120.0  # a job retries a tracking server this long (a restart), then fails


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    seed: int = 0
    force: bool = False  # retrain even when a FINISHED run has the same config


def factors() -> list[str]:
    """The keys a row of a results table varies, in schema order: every model key, and the
    loss, data and train keys marked `factor` (the seed is kept apart: aggregates go over it)."""
    keys = [f"model.{f.name}" for f in fields(ModelConfig)]
    for group, schema in (("loss", LossConfig), ("data", DataConfig), ("train", TrainConfig)):
        keys += [f"{group}.{f.name}" for f in fields(schema) if f.metadata.get("factor")]
    return keys


def register_configs() -> None:
    """Register the schema (extended by conf/config.yaml) and the sweeps of sweeps/ as the
    groups `sweep` (+sweep=depth), `row` (+row=d4, the twelve configs of tables 1-5) and
    `search` (+search=final, the search spaces of sweeps/search/)."""
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
    for path in sorted((sweeps_dir() / "search").glob("*.yaml")):  # +search=final
        store.store(group="search", name=path.stem, node=OmegaConf.load(path), package="_global_")
