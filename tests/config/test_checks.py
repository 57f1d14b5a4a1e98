"""Every leaf key of the schema has a check (config/validation.py CHECKS), and each check
refuses a bad value in one line naming its key: a key added without a check fails here."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import make_cfg
from omegaconf import OmegaConf

from unetexp.config.schema import Config
from unetexp.config.validation import CHECKS, validate
from unetexp.errors import ConfigError

# one bad value per key: out of range, wrong type, not a choice, or in conflict with the rest
BAD = {
    "model.depth": 0,
    "model.convs": 17,
    "model.upsample": "bilinear",
    "model.transpose_kernel": 0,
    "model.bottleneck": 100,
    "model.dropout": 1.0,
    "model.deep_supervision": "yes",
    "loss.name": "focal",
    "loss.alpha": float("nan"),
    "loss.head_weights": [1.0, -1.0, 0.5],
    "data.name": "mnist",
    "data.root": "",
    "data.path": "a\nb",
    "data.images": 3,
    "data.masks": "\x00",
    "data.mask_values": [1, 1],
    "data.strict": "yes",
    "data.size": 1,
    "data.count": 3,
    "data.test_fraction": 1.0,
    "data.val_fraction": -0.1,
    "data.stratify": "species",
    "data.download": "maybe",
    "train.epochs": 0,
    "train.batch_size": 2.5,
    "train.lr": float("inf"),
    "train.optimizer": "adamw",
    "train.augment": "rotate",
    "train.deterministic": 1,
    "train.early_stopping.enabled": None,
    "train.early_stopping.monitor": "val_f1",
    "train.early_stopping.patience": -1,
    "train.early_stopping.min_delta": -1e-3,
    "train.early_stopping.restore_best_weights": "no",
    "train.reduce_lr.enabled": 0,
    "train.reduce_lr.monitor": "val_output1_loss",
    "train.reduce_lr.factor": 1.0,
    "train.reduce_lr.patience": True,
    "train.reduce_lr.min_delta": "small",
    "train.reduce_lr.min_lr": -1.0,
    "train.save_model": [],
    "train.intra_op_threads": -1,
    "train.inter_op_threads": 4096,
    "train.backend": "mxnet",
    "train.precision": "float16",
    "train.resume": "sometimes",
    "train.checkpoint_dir": "",
    "tracking.uri": " ",
    "tracking.experiment": None,
    "tracking.run_name": "x" * 251,
    "tracking.sweep": "",
    "tracking.register_model": "unet_best",
    "tracking.heartbeat_s": 0,
    "tracking.stale_after_s": -5,
    "tracking.retry_s": -1,
    "seed": -1,
    "force": "true",
}


def schema_leaves(schema=Config, prefix: str = "") -> list[str]:
    """The dotted keys of the schema's leaves (nested dataclasses walked)."""
    keys = []
    for f in dataclasses.fields(schema):
        inner = f.type if isinstance(f.type, type) else None
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else None
        if dataclasses.is_dataclass(default) or (inner and dataclasses.is_dataclass(inner)):
            keys += schema_leaves(type(default), f"{prefix}{f.name}.")
        else:
            keys.append(prefix + f.name)
    return keys


def test_every_schema_key_has_a_check_and_a_bad_value_here():
    leaves = schema_leaves()
    assert len(leaves) == len(set(leaves)) > 40
    assert set(leaves) == set(CHECKS)
    assert set(leaves) == set(BAD)


def test_the_defaults_pass_every_check():
    validate(make_cfg())


@pytest.fixture(scope="module")
def plain_defaults():
    """The default config as an untyped DictConfig: it takes values of any type."""
    return OmegaConf.to_container(make_cfg())


@pytest.mark.parametrize("key", sorted(BAD))
def test_each_check_refuses_its_bad_value_in_one_line_naming_the_key(key, plain_defaults):
    cfg = OmegaConf.create(plain_defaults)
    OmegaConf.update(cfg, key, BAD[key], merge=False)
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    message = str(info.value)
    assert message.startswith(f"{key}=") and " is invalid: " in message
    assert "\n" not in message


def test_an_unknown_key_is_refused():
    with pytest.raises(ConfigError, match=r"^model.foo is not a key of the config"):
        validate(make_cfg("+model.foo=1"))
