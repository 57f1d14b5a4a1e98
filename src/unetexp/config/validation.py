"""The checks that run before data loads or TensorFlow imports: one check per leaf key of the
schema (`CHECKS`, keyed by dotted key; a test proves every leaf has one), each turning a value
that cannot build, train or track a model into a one-line `ConfigError` naming the key."""

from __future__ import annotations

from functools import reduce
from typing import TYPE_CHECKING, Any, cast

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from unetexp.config.checks import (
    Check,
    boolean,
    both,
    choice,
    integer,
    is_int,
    is_number,
    number,
    text,
)
from unetexp.config.hashing import flatten
from unetexp.errors import ConfigError, first_line

if TYPE_CHECKING:
    from unetexp.config.schema import Config

UPSAMPLE_CHOICES = ("transpose", "upsampling")
LOSS_CHOICES = ("bce", "dice", "bce_dice")
DATA_CHOICES = ("pets_real", "pets", "npz", "seed_npy", "folder", "synthetic")
STRATIFY_CHOICES = ("breed",)
OPTIMIZER_CHOICES = ("adam", "sgd", "rmsprop")
BACKEND_CHOICES = ("tensorflow", "jax", "torch")  # Keras 3's (training/backend.py)
PRECISION_CHOICES = ("float32", "mixed_float16", "mixed_bfloat16")  # Keras's dtype policies
AUGMENT_CHOICES = ("none", "flip", "flip+shift")  # training/augment.py
# what callbacks may watch: the epoch metrics MLflow shows (for a deep-supervision model these
# are the full-resolution head's), and for such a model also Keras's own per-head names
EPOCH_METRICS = ("loss", "accuracy", "dice", "iou")
MONITOR_CHOICES = tuple(f"{p}{m}" for p in ("val_", "") for m in EPOCH_METRICS)
SEED_MAX = 2**32 - 1  # numpy's and scikit-learn's seeds


def deep_monitor_choices(depth: int) -> tuple[str, ...]:
    """Also `val_loss_total` (all heads) and Keras's per-head names of the heads that exist."""
    heads = range(1, min(depth, 3) + 1)
    return ("val_loss_total", "loss_total") + tuple(
        f"{p}output{h}_{m}" for p in ("val_", "") for h in heads for m in EPOCH_METRICS
    )


def _bottleneck(value, cfg):
    step = 2**cfg.model.depth
    if not (is_int(value) and step <= value <= 8192 and value % step == 0):
        return f"must be a positive multiple of 2**model.depth = {step}, at most 8192"


def _deep_supervision(value, cfg):
    if value and cfg.model.depth < 2:
        return "needs model.depth >= 2 (the extra heads sit at 1/2 and 1/4 resolution)"


def _size(value, cfg):
    if cfg.data.name in ("synthetic", "folder"):  # a file's size: checked from its header
        check_depth(cfg.model.depth, value, "data.size")


def _installed(value, cfg):
    """The backend's package, found without importing it (a job would fail at Keras's import)."""
    from importlib.util import find_spec

    if find_spec(value) is None:
        hint = {"jax": "pip install 'jax[cpu]'"}.get(value, f"pip install {value}")
        return f"{value} is not installed in this environment ({hint})"


def _needed_by(needs: dict[str, str]) -> Check:
    """`needs`: data.name -> the keys that data needs, as the user types them."""

    def check(value, cfg):
        if value is None and cfg.data.name in needs:
            return f"data={cfg.data.name} needs {needs[cfg.data.name]}"

    return check


def _mask_values(value, cfg):
    values = list(value) if value is not None else None
    if values is not None and not (
        values
        and len(values) == len(set(values))
        and all(is_int(v) and 0 <= v <= 65535 for v in values)
    ):
        return "must be null or a list of distinct integers in 0..65535 (the object's values)"


def _head_weights(value, cfg):
    weights = (
        list(value) if not isinstance(value, (str, bytes)) and hasattr(value, "__iter__") else []
    )
    if not (len(weights) == 3 and all(is_number(w) and w >= 0 for w in weights) and weights[0] > 0):
        return "must be 3 weights >= 0 (output1, output2, output3), finite, the first > 0"


def _monitor(value, cfg):
    deep = bool(cfg.model.deep_supervision)
    allowed = MONITOR_CHOICES + (deep_monitor_choices(cfg.model.depth) if deep else ())
    if value not in allowed:
        return (
            "must be one of "
            + ", ".join(MONITOR_CHOICES)
            + (", val_loss_total, val_output1_loss (and other val_outputN_*)" if deep else "")
        )


def _registered(value, cfg):
    if value is not None and not cfg.train.save_model:
        return "registers the logged model: it needs train.save_model=true"


def _threads(value, cfg):
    if not (is_int(value) and 0 <= value <= 1024):
        return "must be an integer >= 0 (0: TensorFlow's default), at most 1024"


def _callback(prefix: str) -> dict[str, Check]:
    return {
        f"{prefix}.enabled": boolean,
        f"{prefix}.monitor": _monitor,
        f"{prefix}.patience": integer(0, 1_000_000),
        f"{prefix}.min_delta": number(0),
    }


PATH = text(nullable=True)
PAIRS = {
    "seed_npy": "data.images=FILE.npy and data.masks=FILE.npy",
    "folder": "data.images=DIR and data.masks=DIR",
}
CHECKS: dict[str, Check] = {  # schema order: a config's first bad key is the one reported
    "model.depth": integer(1, 12, " (the study used 1..5)"),
    "model.convs": integer(1, 16, " (the study used 1..3)"),
    "model.upsample": choice(UPSAMPLE_CHOICES),
    "model.transpose_kernel": integer(1, 15),
    "model.bottleneck": _bottleneck,
    "model.dropout": number(0, 1),
    "model.deep_supervision": both(boolean, _deep_supervision),
    "loss.name": choice(LOSS_CHOICES),
    "loss.alpha": number(0, 1, open_high=False),
    "loss.head_weights": _head_weights,
    "data.name": choice(DATA_CHOICES),
    "data.root": PATH,
    "data.path": both(PATH, _needed_by({"npz": "data.path=FILE.npz"})),
    "data.images": both(PATH, _needed_by(PAIRS)),
    "data.masks": both(PATH, _needed_by(PAIRS)),
    "data.mask_values": _mask_values,
    "data.strict": boolean,
    "data.size": both(integer(2, 4096), _size),
    "data.count": integer(4, 1_000_000),
    "data.test_fraction": number(0, 1, open_low=True),
    "data.val_fraction": number(0, 1),
    "data.stratify": choice(STRATIFY_CHOICES, nullable=True),
    "data.download": boolean,
    "train.epochs": integer(1, 1_000_000),
    "train.batch_size": integer(1, 65536),
    "train.lr": number(0, open_low=True),
    "train.optimizer": choice(OPTIMIZER_CHOICES),
    "train.augment": choice(AUGMENT_CHOICES),
    "train.deterministic": boolean,
    **_callback("train.early_stopping"),
    "train.early_stopping.restore_best_weights": boolean,
    **_callback("train.reduce_lr"),
    "train.reduce_lr.factor": number(0, 1, open_low=True),
    "train.reduce_lr.min_lr": number(0),
    "train.save_model": boolean,
    "train.intra_op_threads": _threads,
    "train.inter_op_threads": _threads,
    "train.backend": both(choice(BACKEND_CHOICES), _installed),
    "train.precision": choice(PRECISION_CHOICES),
    "tracking.heartbeat_s": number(0, open_low=True),
    "tracking.stale_after_s": number(0, open_low=True),
    "tracking.retry_s": number(0),
    "train.resume": boolean,
    "train.checkpoint_dir": PATH,
    "tracking.uri": PATH,
    "tracking.experiment": text(nullable=False, longest=250),
    "tracking.run_name": text(nullable=True, longest=250),
    "tracking.sweep": text(nullable=True, longest=250),
    "tracking.register_model": both(text(nullable=True, longest=250), _registered),
    "seed": integer(0, SEED_MAX),
    "force": boolean,
}


def value_at(cfg, key: str):
    """The value of a dotted key, in a DictConfig or the schema's dataclasses."""
    return reduce(getattr, key.split("."), cfg)


def validate(cfg: DictConfig | Config) -> None:
    """Reject any config that cannot build, train or evaluate a model, before TF is imported:
    the first bad key, in schema order, as `KEY=VALUE is invalid: what is allowed`."""
    unknown = sorted(set(_leaf_keys(cfg)) - set(CHECKS))
    if unknown:  # `+key=value` adds to any config
        raise ConfigError(f"{unknown[0]} is not a key of the config (`unetexp --help` lists them)")
    for key, check in CHECKS.items():
        try:
            value = value_at(cfg, key)
        except (AttributeError, KeyError):
            raise ConfigError(f"{key} is missing") from None
        except OmegaConfBaseException as exc:  # ${...} that does not resolve
            raise ConfigError(f"{key}: cannot resolve its value ({first_line(exc)})") from None
        allowed = check(value, cfg)
        if allowed:
            raise ConfigError(f"{key}={_shown(value)} is invalid: {allowed}")


def _leaf_keys(cfg) -> list[str]:
    """The dotted keys of a composed config's leaves (Hydra's own node aside)."""
    if not isinstance(cfg, DictConfig):
        return []
    node = cast(dict[str, Any], OmegaConf.to_container(cfg, resolve=False))  # a DictConfig's
    return list(flatten({k: v for k, v in node.items() if k != "hydra"}))


def _shown(value) -> str:
    """A value as the user typed it, lists included (OmegaConf's ListConfig)."""
    if hasattr(value, "__iter__") and not isinstance(value, (str, bytes)):
        return repr(list(value))
    return repr(value)


def check_depth(depth: int, size: int, source: str) -> None:
    """The encoder halves the image `depth` times: size must be divisible by 2**depth."""
    if size % 2**depth:
        max_depth = 0
        while size % 2 ** (max_depth + 1) == 0:
            max_depth += 1
        raise ConfigError(
            f"model.depth={depth} is too deep for {size}x{size} images from {source}: "
            f"the size must be divisible by 2**depth (allowed depth: 1..{max_depth})"
        )
