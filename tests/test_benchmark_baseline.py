"""The speed benchmarks' baseline (benchmarks/plain_keras.py) trains what the framework trains:
its twelve configs are sweeps/rows.yaml's, its models have `build_unet`'s exact parameter
counts, and it imports nothing of unetexp (so no import or default of ours slows both sides of
a paired benchmark alike)."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "plain_keras.py"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_baseline_imports_nothing_of_unetexp_or_the_benchmark_helpers():
    assert imported_modules(SCRIPT) == {
        "__future__",
        "argparse",
        "json",
        "os",
        "time",
        "keras",
        "numpy",
        "sklearn",
    }


@pytest.fixture(scope="module")
def plain_keras():
    spec = importlib.util.spec_from_file_location("plain_keras", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_baseline_trains_the_twelve_configs_of_the_tables(plain_keras):
    rows = yaml.safe_load((ROOT / "sweeps" / "rows.yaml").read_text())
    assert {
        name: (
            row["model"]["depth"],
            row["model"]["convs"],
            row["model"]["upsample"],
            row["model"]["bottleneck"],
            row["loss"]["name"],
        )
        for name, row in rows.items()
    } == plain_keras.CONFIGS
    assert len(plain_keras.STUDY_ROWS) == 16 and set(plain_keras.STUDY_ROWS) == set(rows)


def test_the_baseline_models_have_the_frameworks_parameter_counts(plain_keras):
    from unetexp.training.model import build_unet, count_params

    for name, (depth, convs, upsample, bottleneck, _) in plain_keras.CONFIGS.items():
        plain = plain_keras.unet(depth, convs, upsample, bottleneck).count_params()
        ours = count_params(
            build_unet(depth=depth, convs=convs, upsample=upsample, bottleneck=bottleneck)
        )
        assert plain == ours, name
