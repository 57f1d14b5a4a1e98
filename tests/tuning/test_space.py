"""Search spaces in Hydra's grammar as Optuna distributions (`tuning.space`)."""

from __future__ import annotations

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from unetexp.errors import ConfigError
from unetexp.tuning.space import as_overrides, split_space


def parse(*lines: str):
    return split_space(OverridesParser.create().parse_overrides(list(lines)))


def test_each_sweep_kind_becomes_its_distribution():
    space, fixed = parse(
        "model.depth=choice(2,3,4)",
        "model.convs=1,2",
        "model/upsample=choice(transpose,upsampling)",
        "model.bottleneck=range(32,129,32)",
        "model.dropout=interval(0,0.5)",
        "train.lr=tag(log,interval(1e-4,1e-2))",
        "train.batch_size=tag(log,interval(4,32))",
        "train.augment=choice(none,flip,flip+shift)",
        "data=synthetic",
        "train.epochs=3",
    )
    assert fixed == ["data=synthetic", "train.epochs=3"]
    assert space["model.depth"] == CategoricalDistribution([2, 3, 4])
    assert space["model.convs"] == CategoricalDistribution([1, 2])
    assert space["model/upsample"] == CategoricalDistribution(["transpose", "upsampling"])
    # Hydra's range leaves out its stop: 32, 64, 96, 128 (129 excluded)
    assert space["model.bottleneck"] == IntDistribution(32, 128, step=32)
    assert space["model.dropout"] == FloatDistribution(0.0, 0.5)
    assert space["train.lr"] == FloatDistribution(1e-4, 1e-2, log=True)
    assert space["train.batch_size"] == IntDistribution(4, 32, log=True)
    assert space["train.augment"] == CategoricalDistribution(["none", "flip", "flip+shift"])


def test_a_range_keeps_hydras_stop_excluded():
    space, _ = parse("model.depth=range(1,5)")
    assert space["model.depth"] == IntDistribution(1, 4)


def test_a_trials_values_become_overrides_hydra_composes():
    assert as_overrides({"train.lr": 0.00031, "model/upsample": "upsampling"}) == [
        "train.lr=0.00031",
        "model/upsample=upsampling",
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("train.lr=interval(0.1,0.01)", "train.lr: interval(0.1,0.01) needs low < high"),
        ("train.lr=tag(log,interval(0,0.1))", "train.lr: a log interval needs low > 0"),
        ("model.depth=range(5,1)", "model.depth: range(5,1) holds no value"),
        ("model.depth=choice(2,2)", "model.depth: the same choice twice in choice(2,2)"),
    ],
)
def test_a_space_optuna_cannot_sample_is_named(line, message):
    with pytest.raises(ConfigError) as err:
        parse(line)
    assert str(err.value).startswith(message)
