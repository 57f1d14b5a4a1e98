"""Shared fixtures: a throwaway MLflow store, the CLI as a subprocess, small data files."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

PROJECT = Path(__file__).resolve().parents[1]
# tiny, fast training settings for end-to-end runs
TINY = ["data=synthetic", "data.count=24", "data.size=16", "train.epochs=1", "train.batch_size=8"]


@pytest.fixture
def store(tmp_path) -> str:
    """A fresh SQLite tracking URI in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"


def run_cli(*args: str, cwd: Path, env: dict | None = None, timeout: int = 300):
    """`python -m unetexp ARGS` from `cwd`, as a user types it; returns the CompletedProcess."""
    full_env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "unetexp", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def heavy_imports(*args: str, cwd: Path) -> list[str]:
    """Run the CLI in-process with ARGS; which of TensorFlow and matplotlib it imported."""
    code = ("import sys; sys.argv = ['unetexp', *sys.argv[1:]]\n"
            "from unetexp.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "import json; print('IMPORTED', json.dumps(sorted(m for m in ('tensorflow', 'matplotlib') "
            "if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True,
                         text=True, timeout=120)
    last = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    assert last.startswith("IMPORTED "), out.stderr
    return json.loads(last[len("IMPORTED "):])


def search_runs(uri: str, experiment: str = "unetexp"):
    """Every run of the experiment as a DataFrame (mlflow.search_runs)."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    return mlflow.search_runs(experiment_names=[experiment])


def write_npz(path: Path, n: int = 8, size: int = 16, **overrides) -> Path:
    """A small valid npz dataset; keyword arguments replace or add arrays."""
    rng = np.random.default_rng(0)
    arrays = {
        "images": rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
        "masks": rng.integers(0, 2, (n, size, size), dtype=np.uint8),
    }
    arrays.update(overrides)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)
    return path
