"""Config composition (Hydra) and validation: no TensorFlow needed."""

from __future__ import annotations

import pytest
from conftest import make_cfg
from omegaconf import OmegaConf

from unetexp.config.hashing import config_hash, flatten
from unetexp.config.validation import validate
from unetexp.errors import ConfigError


def test_defaults_are_the_study_table1_base():
    cfg = make_cfg()
    assert OmegaConf.to_container(cfg.model) == {
        "depth": 3,
        "convs": 1,
        "upsample": "transpose",
        "transpose_kernel": 2,
        "bottleneck": 128,
        "dropout": 0.0,
        "deep_supervision": False,
    }
    assert (cfg.loss.name, cfg.data.name, cfg.seed) == ("bce", "pets_real", 0)
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.train.lr, cfg.train.optimizer) == (
        10,
        8,
        1e-3,
        "adam",
    )
    assert cfg.tracking.experiment == "unetexp"


@pytest.mark.parametrize(
    "group,option,key,value",
    [
        *[("model/depth", f'"{d}"', "depth", d) for d in range(1, 6)],
        *[("model/convs", f'"{c}"', "convs", c) for c in range(1, 4)],
        *[("model/bottleneck", f'"{b}"', "bottleneck", b) for b in (64, 128, 256)],
    ],
)
def test_numeric_group_options_set_their_key(group, option, key, value):
    assert make_cfg(f"{group}={option}").model[key] == value


@pytest.mark.parametrize(
    "option,upsample,kernel",
    [
        ("transpose", "transpose", 2),
        ("transpose3", "transpose", 3),
        ("upsampling", "upsampling", 2),
    ],
)
def test_upsample_options(option, upsample, kernel):
    cfg = make_cfg(f"model/upsample={option}")
    assert (cfg.model.upsample, cfg.model.transpose_kernel) == (upsample, kernel)


@pytest.mark.parametrize("option,alpha", [("bce", 0.5), ("dice", 0.5), ("bce_dice", 0.5)])
def test_loss_options(option, alpha):
    cfg = make_cfg(f"loss={option}")
    assert cfg.loss.name == option and cfg.loss.alpha == alpha


def test_plain_value_overrides():
    cfg = make_cfg("model.depth=4", "model.bottleneck=32", "loss=bce_dice", "loss.alpha=0.3")
    assert (cfg.model.depth, cfg.model.bottleneck, cfg.loss.alpha) == (4, 32, 0.3)
    validate(cfg)


def test_schema_types_every_key():
    """Every numeric and boolean key of the composed config refuses a word, in the one line a
    user sees, naming the key and the type it wants; an unknown key is refused by name."""
    from unetexp.config.hashing import flatten
    from unetexp.config.jobs import check_command_line
    from unetexp.errors import ConfigError

    wanted = {bool: "a valid bool", int: "converted to Integer", float: "converted to Float"}
    typed = {k: type(v) for k, v in flatten(make_cfg()).items() if type(v) in wanted}
    assert len(typed) >= 30 and {"model.depth", "train.lr", "force"} <= set(typed)
    for key, kind in typed.items():
        with pytest.raises(ConfigError) as refused:
            check_command_line([f"{key}=deep"])
        message = str(refused.value)
        assert f"override {key}=deep" in message and wanted[kind] in message, message
        assert "\n" not in message
    with pytest.raises(ConfigError, match="Key 'no_such_key' not in 'ModelConfig'"):
        check_command_line(["model.no_such_key=1"])


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["model.depth=0"], "model.depth=0 is invalid: must be an integer in 1.."),
        (
            ["data=synthetic", "data.size=64", "model.depth=7"],
            "model.depth=7 is too deep for 64x64 images from data.size",
        ),
        (
            ["model.bottleneck=100"],
            "model.bottleneck=100 is invalid: must be a positive multiple of 2**model.depth = 8",
        ),
        (["model.convs=0"], "model.convs=0 is invalid: must be an integer in 1.."),
        (
            ["model.upsample=bilinear"],
            "model.upsample='bilinear' is invalid: must be one of transpose, upsampling",
        ),
        (["loss.name=focal"], "loss.name='focal' is invalid: must be one of bce, dice, bce_dice"),
        (["loss=bce_dice", "loss.alpha=1.5"], "loss.alpha=1.5 is invalid: must be in [0, 1]"),
        (["loss.alpha=-0.1"], "loss.alpha=-0.1 is invalid"),
        (["train.epochs=0"], "train.epochs=0 is invalid: must be an integer in 1.."),
        (["train.batch_size=0"], "train.batch_size=0 is invalid"),
        (["train.lr=0"], "train.lr=0.0 is invalid: must be > 0"),
        (["data.val_fraction=1.0"], "data.val_fraction=1.0 is invalid: must be in [0, 1)"),
        (["data=npz"], "data=npz needs data.path=FILE.npz"),
        (
            ["data=seed_npy", "data.images=a.npy"],
            "data=seed_npy needs data.images=FILE.npy and data.masks=FILE.npy",
        ),
    ],
)
def test_validate_rejects_with_one_line_naming_the_key(overrides, message):
    with pytest.raises(ConfigError) as info:
        validate(make_cfg(*overrides))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_flatten_names_every_leaf():
    flat = flatten(make_cfg())
    assert flat["model.depth"] == 3 and flat["loss.name"] == "bce" and flat["seed"] == 0
    assert flat["tracking.uri"] is None
    assert not any(isinstance(v, dict) for v in flat.values())


def test_config_hash_is_stable_and_ignores_tracking():
    base = config_hash(make_cfg())
    assert base == config_hash(make_cfg())
    assert base == config_hash(make_cfg("tracking.experiment=other", "tracking.uri=sqlite:///x.db"))
    assert base != config_hash(make_cfg("seed=1"))
    assert base != config_hash(make_cfg("model.depth=4"))


@pytest.mark.parametrize(
    "overrides,digest",
    [
        (["data=pets"], "2efa34991c65e956"),  # data=pets was the default
        (["data=npz", "data.path=x.npz"], "4cd1a82574f016d8"),
        (["+experiment=unet_best", "data=pets"], "962ab807a1cfaf52"),
        (["+experiment=unet_deep", "seed=2", "data=pets"], "404e9b6a2e7bc081"),
    ],
)
def test_runs_logged_before_keep_their_hash(overrides, digest):
    """The hashes of the release before the redesign: the same configs (the experiments now
    extend unet_simple; data.download now defaults to true; data=pets, the default then, is now
    named; data.mask_values and data.strict are new) find their FINISHED runs."""
    assert config_hash(make_cfg(*overrides)) == digest
    assert config_hash(make_cfg(*overrides, "data.download=false")) == digest
