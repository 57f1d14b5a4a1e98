"""A config is trained once, even by concurrent sweeps (tracking/claim.py): a live owner's
RUNNING run is waited for and reused, a dead owner's is closed as KILLED and trained again."""

from __future__ import annotations

import logging
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


class Waiting(logging.Handler):
    """Set when the claimant logs that it waits: the moment to end the owner's run (an event,
    not a timer racing the claimant's first look)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "waiting for run" in record.getMessage():
            self.seen.set()


def end_once_waited_for(store: str, run_id: str, status: str, monkeypatch) -> threading.Thread:
    """A thread that ends `run_id` with `status` once the claimant said it waits for it."""
    monkeypatch.setattr(claims, "POLL_S", 0.05)
    waiting = Waiting()
    claims.log.addHandler(waiting)
    claims.log.setLevel(logging.INFO)

    def end() -> None:
        if waiting.seen.wait(timeout=120):
            client(store).set_terminated(run_id, status)
        claims.log.removeHandler(waiting)

    thread = threading.Thread(target=end)
    thread.start()
    return thread


def live_owner():
    return subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                            stdin=subprocess.PIPE)  # fmt: skip


def test_a_live_owners_run_is_waited_for_then_reused(store, monkeypatch, caplog):
    owner = live_owner()
    try:
        run_id = running_run(store, "abc", owner.pid)
        ender = end_once_waited_for(store, run_id, "FINISHED", monkeypatch)
        caplog.set_level("INFO")
        reused, started = claim_or_start(store, "abc")
        ender.join()
    finally:
        owner.kill()
        owner.wait()
    assert reused == run_id and started == []
    assert f"waiting for run {run_id} (pid {owner.pid})" in caplog.text


def test_a_live_owners_failed_run_is_trained_again(store, monkeypatch, caplog):
    owner = live_owner()
    try:
        run_id = running_run(store, "abc", owner.pid)
        ender = end_once_waited_for(store, run_id, "FAILED", monkeypatch)
        caplog.set_level("INFO")
        reused, started = claim_or_start(store, "abc")
        ender.join()
    finally:
        owner.kill()
        owner.wait()
    assert reused is None and len(started) == 1
    assert f"run {run_id} ended without FINISHED: training this config" in caplog.text


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
    assert len(jobs) == 2 and jobs["tags.config_hash"].nunique() == 2
    assert (runs["tags.role"] == "sweep").sum() == 2
    assert sum("skipped" in out for out in outs) >= 1
    again = run_cli(*args[3:], cwd=tmp_path)
    assert again.returncode == 0 and "0 trained, 2 skipped" in again.stderr + again.stdout
