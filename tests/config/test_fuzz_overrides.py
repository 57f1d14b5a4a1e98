"""Fuzzing the command line: seeded random override lists (wrong types, out-of-range values,
unknown keys and groups, odd strings, paths with spaces and non-ASCII) end either valid or in
one `unetexp: error:` line naming the key, never in another exception."""

from __future__ import annotations

import random

import pytest
from conftest import run_cli

from unetexp.config.jobs import check_command_line
from unetexp.config.validation import CHECKS
from unetexp.errors import UnetexpError

CASES = 200
KEYS = [
    *CHECKS,
    "model.foo",
    "foo",
    "data.pathh",
    "train",
    "model",
    "hydra.job.name",
    "loss.head_weights.0",
    "model.depth.x",
]
GROUPS = [
    "model=x",
    "loss=focal",
    "loss=dice",
    "data=mnist",
    "data=synthetic",
    "data=npz",
    "data=folder",
    "data=pets",
    "+experiment=nope",
    "+experiment=unet_best",
    "+sweep=depth",
    "+sweep=nope",
    "model/depth=4",
    "model/depth='\"4\"'",
    "model/upsample=upsampling",
    "hydra/launcher=nope",
    "+row=d4",
    "~data",
    "~seed",
]
VALUES = [
    "0",
    "-1",
    "1",
    "3",
    "7",
    "2.5",
    "0.5",
    "1.0",
    "-5",
    "64",
    "100",
    "128",
    "1e-3",
    "0.999",
    "-0.0",
    "1e400",
    "nan",
    "inf",
    "-inf",
    "4294967296",
    "99999999999999999999",
    "true",
    "null",
    "''",
    "abc",
    "a b",
    "é文字",
    "[1,2]",
    "[1.0,0.5,0.25]",
    "{a:1}",
    "${oops}",
    "${seed}",
    "a=b",
    "'quoted'",
    '"x y"',
    "/tmp/with space/file é.npz",
    "'/tmp/with space/é 文.npz'",
    "~/x.npz",
    "\\",
    "#",
    "1,2",
    "range(1,3)",
    "x" * 300,
    "sqlite:////tmp/é x/m.db",
    "http://127.0.0.1:9",
    "val_dice",
    "bce_dice",
    "adamw",
]
PREFIXES = [""] * 8 + ["+", "++", "~"]  # mostly plain: most lists reach the value checks


def random_overrides(rng: random.Random) -> list[str]:
    """1 to 4 overrides: a key (known or not) with a value, or a group choice."""
    out = []
    for _ in range(rng.randint(1, 4)):
        if rng.random() < 0.25:
            out.append(rng.choice(GROUPS))
        else:
            out.append(f"{rng.choice(PREFIXES)}{rng.choice(KEYS)}={rng.choice(VALUES)}")
    return out


def keys_of(overrides: list[str]) -> list[str]:
    """What a message may name for each override: its key, its group, or the override."""
    names = []
    for item in overrides:
        key = item.split("=", 1)[0].lstrip("+~")
        names += [item, key, key.split("/")[0], key.rsplit(".", 1)[0]]
    return names


def outcome(overrides: list[str]) -> str | None:
    """None when the command line is valid, else its one-line error (asserted to name one of
    its keys); any other exception fails the test."""
    try:
        check_command_line(overrides)
    except UnetexpError as exc:
        message = str(exc)
        assert "\n" not in message and message, (overrides, message)
        assert any(name in message for name in keys_of(overrides)), (overrides, message)
        return message
    return None


def test_random_override_lists_end_valid_or_in_one_line_naming_the_key():
    rng = random.Random(14)
    results = [outcome(random_overrides(rng)) for _ in range(CASES)]
    errors = [r for r in results if r]
    assert len(errors) > CASES // 2 and len(results) - len(errors) > 5  # both kinds were tried


@pytest.mark.slow
def test_a_sample_through_the_real_command_fails_before_training(tmp_path):
    """8 invalid command lines of the generator through `python -m unetexp`: exit 2, one line,
    no run, no sweep folder."""
    rng, tried = random.Random(1414), 0
    while tried < 8:
        overrides = [
            ("-m" if tried % 2 else "--run"),
            *random_overrides(rng),
            f"tracking.uri=sqlite:///{tmp_path}/m.db",
        ]
        if outcome(overrides) is None:  # valid: it would train
            continue
        tried += 1
        out = run_cli(*overrides, cwd=tmp_path)
        assert out.returncode == 2, (overrides, out.stderr[-2000:])
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("unetexp: error: "), (overrides, out.stderr)
    assert not (tmp_path / "m.db").exists() and not (tmp_path / "multirun").exists()
