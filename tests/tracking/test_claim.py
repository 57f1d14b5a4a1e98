"""A config is trained once, even by concurrent sweeps (tracking/claim.py): a live owner's
RUNNING run is waited for and reused, a dead owner's is closed as KILLED and trained again."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading

import pytest
from conftest import TINY, run_cli, search_runs

from unetexp.tracking import claim as claims
from unetexp.tracking.store import client, connect


def running_run(uri: str, config_hash: str, pid: int) -> str:
    """A RUNNING run of `config_hash`, owned by process `pid` of this host."""
    experiment_id = connect(uri, "unetexp")
    run = client(uri).create_run(
        experiment_id,
        tags={"config_hash": config_hash, "host": socket.gethostname(), "pid": str(pid)},
    )
    return run.info.run_id


def claim_or_start(uri: str, config_hash: str) -> tuple[str | None, list[str]]:
    """(reused run id, experiment ids `start` was called with)."""
    started: list[str] = []
    return claims.claim(uri, "unetexp", config_hash, False, started.append), started


def test_a_dead_owners_run_is_killed_and_the_config_trained(store):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run_id = running_run(store, "abc", dead.pid)
    reused, started = claim_or_start(store, "abc")
    assert reused is None and len(started) == 1
    assert client(store).get_run(run_id).info.status == "KILLED"


def test_a_live_owners_run_is_waited_for_then_reused(store, monkeypatch, caplog):
    monkeypatch.setattr(claims, "POLL_S", 0.2)
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run_id = running_run(store, "abc", owner.pid)
        finish = threading.Timer(1.5, client(store).set_terminated, (run_id, "FINISHED"))
        finish.start()
        caplog.set_level("INFO")
        reused, started = claim_or_start(store, "abc")
        finish.join()
    finally:
        owner.kill()
        owner.wait()
    assert reused == run_id and started == []
    assert f"waiting for run {run_id} (pid {owner.pid})" in caplog.text


def test_a_live_owners_failed_run_is_trained_again(store, monkeypatch):
    monkeypatch.setattr(claims, "POLL_S", 0.2)
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run_id = running_run(store, "abc", owner.pid)
        threading.Timer(1.0, client(store).set_terminated, (run_id, "FAILED")).start()
        reused, started = claim_or_start(store, "abc")
    finally:
        owner.kill()
        owner.wait()
    assert reused is None and len(started) == 1


@pytest.mark.slow
def test_two_identical_sweeps_together_train_each_config_once(tmp_path, store):
    """Two terminals type the same sweep at the same moment on a new store: every config
    FINISHED exactly once, nothing RUNNING, both commands succeed."""
    args = [
        sys.executable,
        "-m",
        "unetexp",
        "-m",
        "model.depth=1,2",
        "seed=0,1",
        *TINY,
        f"tracking.uri={store}",
    ]
    procs = [
        subprocess.Popen(
            args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    outs = [proc.communicate(timeout=600)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outs[0][-3000:] + outs[1][-3000:]
    runs = search_runs(store)
    jobs = runs[runs["tags.role"] == "job"]
    assert (runs["status"] == "FINISHED").all(), runs[["status", "tags.role"]]
    assert len(jobs) == 4 and jobs["tags.config_hash"].nunique() == 4
    assert (runs["tags.role"] == "sweep").sum() == 2
    assert sum("skipped" in out for out in outs) >= 1
    again = run_cli(*args[3:], cwd=tmp_path)
    assert again.returncode == 0 and "0 trained, 4 skipped" in again.stderr + again.stdout
