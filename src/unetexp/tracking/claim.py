"""A config is trained once, even by concurrent sweeps: under the store's lock a job either
finds its config FINISHED (reuse), RUNNING in a live process (wait for it: its pid on this
host, its heartbeat on another), or nothing (create its run before the lock is released, so
the next job sees it RUNNING).

A config is the same experiment only on the same data: runs are matched on their
`config_hash` tag AND their `data_sha256` tag (the bytes the job was trained on, which every
run has recorded since the data identity was added), so a rewritten file is trained again."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable

from unetexp.host import alive
from unetexp.tracking import heartbeat
from unetexp.tracking.store import client, connect, resolve_uri, sqlite_path, store_lock

log = logging.getLogger(__name__)

POLL_S = 2.0
WAIT_LIMIT_S = 7 * 24 * 3600.0  # a live owner's run that long RUNNING is not waited for


def _runs(mlflow_client, experiment_id: str, config_hash: str, status: str) -> list:
    return mlflow_client.search_runs(
        [experiment_id],
        filter_string=(f"tags.config_hash = '{config_hash}' and attributes.status = '{status}'"),
        max_results=1000,
    )


def _on_data(runs: list, data_sha256: str | None) -> list:
    """The runs trained on these bytes (all of them when the caller knows no data hash)."""
    if data_sha256 is None:
        return runs
    return [r for r in runs if r.data.tags.get("data_sha256") == data_sha256]


def _other_data_note(runs: list, data_sha256: str | None, label: str) -> None:
    """Say why a config that has a FINISHED run is trained again: its data changed."""
    if runs and data_sha256 is not None:
        theirs = runs[0].data.tags.get("data_sha256") or "unrecorded"
        log.info(
            "%sFINISHED run %s has this config but was trained on other data (sha256 %s, "
            "now %s): training it on this data",
            label,
            runs[0].info.run_id,
            theirs[:12],
            data_sha256[:12],
        )


def _live_owner(mlflow_client, run, stale_after_s: float) -> bool:
    """RUNNING in another live process: on this host, its pid runs; on another host, its
    heartbeat is fresh. One of another host whose heartbeat went stale is closed KILLED, with
    the reason in its `killed_reason` tag (its checkpoint, if every node reads it, resumes).
    A run of another host without heartbeat (an earlier release) cannot be checked: not
    waited for."""
    tags = run.data.tags
    if tags.get("host") == socket.gethostname():
        return tags.get("pid") != str(os.getpid()) and alive(tags.get("host"), tags.get("pid"))
    silent = heartbeat.stale(run, stale_after_s)
    if silent is None:
        return heartbeat.last_beat(run) is not None
    reason = (
        f"no heartbeat for {silent:.0f} s (host {tags.get('host')}, pid {tags.get('pid')}): "
        f"closed by {socket.gethostname()} pid {os.getpid()}"
    )
    mlflow_client.set_tag(run.info.run_id, "killed_reason", reason)
    mlflow_client.set_terminated(run.info.run_id, "KILLED")
    log.info("run %s: %s", run.info.run_id, reason)
    return False


def _resumable(
    mlflow_client, experiment_id: str, config_hash: str, data_sha256, can_resume
) -> str | None:
    """The newest KILLED run of this config on this data whose training state was kept."""
    killed = _on_data(_runs(mlflow_client, experiment_id, config_hash, "KILLED"), data_sha256)
    killed.sort(key=lambda r: r.info.start_time or 0, reverse=True)
    return next((r.info.run_id for r in killed if can_resume(r.info.run_id)), None)


CLAIM_TAG = "claim"  # pending, then won: the claim protocol of a server store (`_settle`)
SETTLE_S = 2.0  # longer than a claimant takes from its read of the config's runs to its win tag


def _settle(
    mlflow_client, experiment_id: str, config_hash: str, data_sha256, mine: str, stale_after_s
) -> str | None:
    """Exactly once without a lock, for server stores (the SQLite lock is one machine's): every
    claimant creates its run, tags it `claim=pending`, waits SETTLE_S, and reads the config's
    runs. A FINISHED run, or a live one that is not pending (it won, or was reopened: a
    claimant can miss a reopening between its reads of RUNNING and of KILLED runs), beats it;
    among the pending ones (all of those created within SETTLE_S of each other, as every one of
    them sees), the earliest (start time, run id) wins and tags itself `won`. None when this
    claimant won, else the run it yields to."""
    mlflow_client.set_tag(mine, CLAIM_TAG, "pending")
    time.sleep(SETTLE_S)  # the protocol's window, not a wait for a result
    done = _on_data(_runs(mlflow_client, experiment_id, config_hash, "FINISHED"), data_sha256)
    if done:
        return done[0].info.run_id
    running = _on_data(_runs(mlflow_client, experiment_id, config_hash, "RUNNING"), data_sha256)
    for run in running:
        if run.info.run_id != mine and run.data.tags.get(CLAIM_TAG) != "pending":
            if _live_owner(mlflow_client, run, stale_after_s):
                return run.info.run_id
    pending = [r for r in running if r.data.tags.get(CLAIM_TAG) == "pending"]
    first = min(pending, key=lambda r: (r.info.start_time or 0, r.info.run_id), default=None)
    if first is None or first.info.run_id == mine:
        mlflow_client.set_tag(mine, CLAIM_TAG, "won")
        return None
    return first.info.run_id


BID_TAG = "resume_bid."  # + host.pid: a claimant's bid to reopen a KILLED run (`_won_resume`)
BID_VALID_S = 30.0  # a winner reopens at once; an older bid on a run still KILLED died first


def _bids(run, now: float) -> list[tuple[float, str]]:
    """The live bids on a KILLED run, earliest first: made since it last ended and within
    BID_VALID_S (the bids of an earlier reopening, or of a winner that died, do not count)."""
    since = max((run.info.end_time or 0) / 1000.0, now - BID_VALID_S)
    bids = []
    for key, value in run.data.tags.items():
        if not key.startswith(BID_TAG):
            continue
        try:
            at = float(value)
        except ValueError:  # not a bid of ours
            continue
        if at > since:
            bids.append((at, key))
    return sorted(bids)


def _won_resume(mlflow_client, run_id: str) -> bool:
    """Exactly one reopener of a KILLED run on a server store, without a lock: every claimant
    tags the run with a bid of its own (the time), waits SETTLE_S, and reads it again; the
    earliest live bid wins, and a run no longer KILLED was reopened by another."""
    mine = f"{BID_TAG}{socket.gethostname()}.{os.getpid()}"
    mlflow_client.set_tag(run_id, mine, f"{time.time():.6f}")
    time.sleep(SETTLE_S)  # the protocol's window, not a wait for a result
    run = mlflow_client.get_run(run_id)
    if run.info.status != "KILLED":
        return False
    bids = _bids(run, time.time())
    return bool(bids) and bids[0][1] == mine


def claim(
    uri: str | None,
    experiment: str,
    config_hash: str | None,
    force: bool,
    start: Callable[[str], str | None],
    label: str = "",
    data_sha256: str | None = None,
    resume: tuple[Callable[[str], bool], Callable[[str], None]] | None = None,
    stale_after_s: float = heartbeat.STALE_AFTER_S,
    withdraw: Callable[[str], None] | None = None,
) -> str | None:
    """The id of a FINISHED run of this config on this data to reuse; else None, after
    `start(experiment_id)` created this process's run (and returned its id) under the lock, or
    `resume`'s second callable reopened a KILLED run of this config whose checkpoint its first
    one finds. A RUNNING run of a dead process of this host is closed as KILLED (`connect` does
    it); one of a live process is waited for. On a server store, where no lock spans the
    hosts, a new run must also win `_settle`; a claimant that loses `withdraw`s its run and
    waits for the winner; a KILLED run is reopened by the winner of `_won_resume` only."""
    experiment_id = connect(uri, experiment)
    serialised = sqlite_path(resolve_uri(uri)) is not None
    mlflow_client = client(uri)
    waited_for, deadline = None, time.monotonic() + WAIT_LIMIT_S
    while True:
        with store_lock(uri):
            live = []
            if config_hash and not force:  # RUNNING first: an owner may finish in between
                running = _runs(mlflow_client, experiment_id, config_hash, "RUNNING")
                live = [
                    r
                    for r in _on_data(running, data_sha256)
                    if _live_owner(mlflow_client, r, stale_after_s)
                ]
                finished = _runs(mlflow_client, experiment_id, config_hash, "FINISHED")
                done = _on_data(finished, data_sha256)
                if done:
                    return done[0].info.run_id
                if not live and not waited_for:
                    _other_data_note(finished, data_sha256, label)
            if not live or time.monotonic() > deadline:
                if waited_for:
                    log.info(
                        "%srun %s ended without FINISHED: training this config", label, waited_for
                    )
                killed = (
                    _resumable(mlflow_client, experiment_id, config_hash, data_sha256, resume[0])
                    if resume and config_hash and not force
                    else None
                )
                if killed and resume:
                    if serialised or _won_resume(mlflow_client, killed):
                        resume[1](killed)
                        return None
                    log.info("%sanother job reopens KILLED run %s: waiting for it", label, killed)
                    continue
                mine = start(experiment_id)
                if serialised or not (config_hash and mine and withdraw) or force:
                    return None
                winner = _settle(
                    mlflow_client, experiment_id, config_hash, data_sha256, mine, stale_after_s
                )
                if winner is None:
                    return None
                withdraw(mine)
                log.info("%srun %s claimed this config first: withdrew run %s", label, winner, mine)
                continue
        if waited_for != live[0].info.run_id:
            waited_for = live[0].info.run_id
            log.info(
                "%swaiting for run %s (pid %s), which trains this config now",
                label,
                waited_for,
                live[0].data.tags.get("pid"),
            )
        time.sleep(POLL_S)
        connect(uri, experiment)  # an owner that died meanwhile: its run is closed as KILLED
