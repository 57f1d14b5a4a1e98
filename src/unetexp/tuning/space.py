"""A search space written in Hydra's override grammar, as Optuna distributions.

`choice(a,b)` and `a,b` are categorical; `range(start,stop[,step])` keeps Hydra's meaning (stop
excluded) as an integer (or stepped float) distribution; `interval(low,high)` is uniform, float
unless both ends are integers, and `tag(log, interval(...))` log-uniform. A key that is not
swept is fixed: it goes to every trial as written. Imports Optuna (only a search does)."""

from __future__ import annotations

from typing import Any

from hydra.core.override_parser.types import (
    ChoiceSweep,
    IntervalSweep,
    Override,
    RangeSweep,
    Transformer,
)

from unetexp.errors import ConfigError


def distribution(override: Override):
    """The Optuna distribution of one swept override."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    key, value = override.get_key_element(), override.value()
    written = str(override.input_line).split("=", 1)[-1]  # the value as the user wrote it
    if isinstance(value, ChoiceSweep) or (isinstance(value, RangeSweep) and value.shuffle):
        choices: list[Any] = list(override.sweep_iterator(transformer=Transformer.encode))
        if len(set(map(str, choices))) < len(choices):
            raise ConfigError(f"{key}: the same choice twice in {written}")
        return CategoricalDistribution(choices)
    if isinstance(value, RangeSweep):
        ends: list[Any] = [value.start, value.stop, value.step]
        if any(isinstance(v, float) for v in ends):
            stepped: list[Any] = list(override.sweep_iterator())
            return CategoricalDistribution(stepped)
        start, stop, step = (int(v) for v in ends)
        count = len(range(start, stop, step))
        if count == 0:
            raise ConfigError(f"{key}: {written} holds no value")
        return IntDistribution(start, start + (count - 1) * step, step=step)
    if isinstance(value, IntervalSweep):
        low, high, log = value.start, value.end, "log" in value.tags
        if not (low is not None and high is not None and low < high):
            raise ConfigError(f"{key}: {written} needs low < high")
        if log and low <= 0:
            raise ConfigError(f"{key}: a log interval needs low > 0 ({written})")
        if float(low).is_integer() and float(high).is_integer() and _typed_int(override):
            return IntDistribution(int(low), int(high), log=log)
        return FloatDistribution(float(low), float(high), log=log)
    raise ConfigError(f"{key}: {written} is not a search space Optuna can sample")


def _typed_int(override: Override) -> bool:
    """Whether an interval was written with integer ends (`interval(1,8)`): Hydra parses both
    kinds as floats, so the text decides."""
    inside = str(override.input_line).split("interval(", 1)[-1].split(")", 1)[0]
    return all(part.strip().lstrip("+-").isdigit() for part in inside.split(","))


def split_space(overrides: list[Override]) -> tuple[dict[str, Any], list[str]]:
    """(searched key -> distribution, the fixed overrides as written)."""
    space: dict[str, Any] = {}
    fixed: list[str] = []
    for override in overrides:
        if override.is_sweep_override():
            space[override.get_key_element()] = distribution(override)
        else:
            fixed.append(str(override.input_line))
    return space, fixed


def as_overrides(params: dict[str, Any]) -> list[str]:
    """A trial's values as overrides (`train.lr=0.00031`, `model/upsample=upsampling`)."""
    return [f"{key}={value}" for key, value in params.items()]


def describe(space: dict[str, Any]) -> dict[str, str]:
    """The space as text (the study's identity, the parent run's tags)."""
    return {key: repr(dist) for key, dist in sorted(space.items())}
