"""Liveness across hosts (tracking/heartbeat.py, tracking/claim.py): a RUNNING run of another
host is waited for while its heartbeat is fresh, and closed KILLED with the reason once it
went stale; a job's thread keeps its heartbeat fresh."""

from __future__ import annotations

import time

from test_claim import claim_or_start, end_once_waited_for

from unetexp.tracking.heartbeat import Heartbeat
from unetexp.tracking.store import client, connect


def remote_run(uri: str, config_hash: str, beat_age_s: float | None) -> str:
    """A RUNNING run of `config_hash` on host `node-b` whose last heartbeat is that old."""
    tags = {"config_hash": config_hash, "host": "node-b", "pid": "4242"}
    if beat_age_s is not None:
        tags["heartbeat"] = f"{time.time() - beat_age_s:.0f}"
    return client(uri).create_run(connect(uri, "unetexp"), tags=tags).info.run_id


def test_another_hosts_run_with_a_fresh_heartbeat_is_waited_for(store, monkeypatch, caplog):
    run_id = remote_run(store, "abc", beat_age_s=5)
    ender = end_once_waited_for(store, run_id, "FINISHED", monkeypatch)
    caplog.set_level("INFO")
    reused, started = claim_or_start(store, "abc")
    ender.join()
    assert reused == run_id and started == []
    assert f"waiting for run {run_id} (pid 4242)" in caplog.text


def test_another_hosts_run_silent_past_the_timeout_is_killed_with_its_reason(store):
    run_id = remote_run(store, "abc", beat_age_s=400)  # the default timeout is 300 s
    reused, started = claim_or_start(store, "abc")
    assert reused is None and len(started) == 1
    dead = client(store).get_run(run_id)
    assert dead.info.status == "KILLED"
    reason = dead.data.tags["killed_reason"]
    assert reason.startswith("no heartbeat for 4") and "(host node-b, pid 4242)" in reason


def test_another_hosts_run_without_heartbeat_is_not_waited_for(store):
    """An earlier release's run: nothing says whether it lives; trained as before."""
    run_id = remote_run(store, "abc", beat_age_s=None)
    reused, started = claim_or_start(store, "abc")
    assert reused is None and len(started) == 1
    assert client(store).get_run(run_id).info.status == "RUNNING"


def test_the_heartbeat_thread_beats_until_stopped(store):
    """Set on entry, renewed from the thread (the tag is whole seconds: it changes within about
    one), and the thread is gone after the exit."""
    run_id = client(store).create_run(connect(store, "unetexp")).info.run_id
    with Heartbeat(store, run_id, every_s=0.05) as beat:
        first = client(store).get_run(run_id).data.tags["heartbeat"]
        assert abs(float(first) - time.time()) < 30
        deadline = time.monotonic() + 30
        while client(store).get_run(run_id).data.tags["heartbeat"] == first:
            assert time.monotonic() < deadline, "the heartbeat was not renewed"
            time.sleep(0.05)  # polling the store for the renewal, not timing it
    assert not beat._thread.is_alive()
