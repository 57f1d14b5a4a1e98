"""Reuse is keyed on what was trained on: a config whose data file was rewritten in place is
trained again (and the log says why); the same bytes are reused, also for a run that the
previous release logged (its code run from git, into the same store)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import PROJECT, run_cli, search_runs, write_npz

# main before reuse looked at the data's bytes: the previous release's code
PREVIOUS_RELEASE = "ca2da45a1f44e8badab85a14e036e30c9d32a75c"
ARGS = ["model.depth=1", "train.epochs=1", "train.batch_size=8", "data=npz"]


def previous_release(dest) -> str:
    """The previous release's src/ and conf/, extracted from git; its src folder."""
    archive = subprocess.run(
        ["git", "-C", str(PROJECT), "archive", PREVIOUS_RELEASE, "src", "conf"],
        capture_output=True,
        timeout=60,
    )
    if archive.returncode != 0:
        pytest.skip(f"git history lacks the previous release {PREVIOUS_RELEASE[:7]}")
    dest.mkdir()
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True, timeout=60)
    return str(dest / "src")


@pytest.mark.slow
def test_a_rewritten_file_retrains_and_the_same_bytes_reuse_a_previous_release_run(tmp_path, store):
    data = write_npz(tmp_path / "d.npz", n=20, size=16)
    args = [*ARGS, f"data.path={data}", f"tracking.uri={store}"]
    env = {**os.environ, "PYTHONPATH": previous_release(tmp_path / "previous")}
    env.pop("MLFLOW_TRACKING_URI", None)
    old = subprocess.run(
        [sys.executable, "-m", "unetexp", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert old.returncode == 0, old.stderr[-2000:]
    first = search_runs(store)
    assert len(first) == 1 and first["status"].iloc[0] == "FINISHED"

    same = run_cli(*args, cwd=tmp_path)  # this release, same bytes: the old run is reused
    assert same.returncode == 0, same.stderr[-2000:]
    assert (
        f"FINISHED run {first['run_id'].iloc[0]} has this config and data"
        in same.stdout + same.stderr
    )
    assert len(search_runs(store)) == 1

    rng = np.random.default_rng(1)  # the same path, other images: another experiment
    write_npz(
        data,
        n=40,
        size=16,
        images=rng.integers(0, 256, (40, 16, 16, 3), dtype=np.uint8),
        masks=rng.integers(0, 2, (40, 16, 16), dtype=np.uint8),
    )
    changed = run_cli(*args, cwd=tmp_path)
    assert changed.returncode == 0, changed.stderr[-2000:]
    assert (
        "has this config but was trained on other data (sha256 " in changed.stdout + changed.stderr
    )
    runs = search_runs(store)
    assert len(runs) == 2 and (runs["status"] == "FINISHED").all()
    assert runs["tags.config_hash"].nunique() == 1  # the config did not change, its data did
    assert runs["tags.data_sha256"].nunique() == 2
    assert sorted(runs["tags.data_count"]) == ["20", "40"]

    again = run_cli(*args, cwd=tmp_path)  # the new bytes' run is now the one reused
    assert again.returncode == 0 and "has this config and data" in again.stdout + again.stderr
    assert len(search_runs(store)) == 2
