"""Every test that starts a Ray, in one module: pytest-xdist (`--dist loadscope`) runs a module
on one worker, so two Ray clusters never start at once on a 2-core machine. A local Ray, and a
cluster of two nodes (`ray start --head`, then `ray start --address` from a host identity of its
own: a UTS namespace) sweeping against the PostgreSQL-backed server."""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TINY, client_runs, free_port, run_cli, start_cli, unavailable
from searching import check_trials_match_runs, search_args, study
from test_decide_sweeper import ONE_LOOK, TIMEOUT, check_decisions
from test_scale import assert_nothing_lost, parallel_jobs_of_one_config, sweep_of

HAS_RAY = all(importlib.util.find_spec(m) for m in ("ray", "hydra_plugins.hydra_ray_launcher"))
pytestmark = pytest.mark.skipif(
    not HAS_RAY, reason="Ray launcher not installed: pip install -e '.[scale]'"
)
RAY = [
    "hydra/launcher=ray",
    "hydra.launcher.ray.init.address=local",  # two jobs at once
    "+hydra.launcher.ray.init.num_cpus=2",
    "+hydra.launcher.ray.init.include_dashboard=false",
]
ONE_THREAD = "train.intra_op_threads=1"  # per job: two jobs share the two cores
QUIET = {"RAY_USAGE_STATS_ENABLED": "0"}


def test_ray_multirun_logs_to_the_same_server(server, tmp_path):
    """2 jobs on a new local Ray (2 CPUs, whatever cluster `ray start` left): the launching
    process sets no environment variable, the parent id reaches the jobs through
    hydra.job.env_set (as it reaches the workers of a cluster, which inherit nothing)."""
    out = run_cli(
        "-m",
        *RAY,
        "model.depth=1,2",
        *TINY,
        ONE_THREAD,
        f"tracking.uri={server}",
        "tracking.experiment=ray",
        cwd=tmp_path,
        env=QUIET,
        timeout=400,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    parent, children = sweep_of(server, "ray")
    assert parent["status"] == "FINISHED"
    assert len(children) == 2 and (children["status"] == "FINISHED").all()
    assert (children["tags.mlflow.parentRunId"] == parent["run_id"]).all()
    assert parent["tags.pid"] not in set(children["tags.pid"])
    assert_nothing_lost(server, children, epochs=1)


def test_parallel_ray_jobs_of_one_config_train_it_once(tmp_path, store):
    parallel_jobs_of_one_config(tmp_path, store, RAY, env=QUIET)


@pytest.mark.slow
def test_decide_with_a_local_ray(tmp_path, store):
    """Jobs in Ray workers: the sweeper reads their results from the store, not from them."""
    out = run_cli(
        *ONE_LOOK,
        *RAY,
        ONE_THREAD,
        f"tracking.uri={store}",
        cwd=tmp_path,
        env=QUIET,
        timeout=TIMEOUT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    check_decisions(store)


@pytest.mark.slow
def test_a_search_on_a_local_ray_prunes_and_records_every_trial(tmp_path):
    """Trials in Ray workers report their epochs to the study in its SQLite storage."""
    args = search_args(tmp_path, *RAY, ONE_THREAD, "hydra.sweeper.n_trials=4")
    out = run_cli(*args, cwd=tmp_path, env=QUIET, timeout=TIMEOUT)
    assert out.returncode == 0, out.stderr[-3000:]
    runs = check_trials_match_runs(tmp_path, n_trials=4)
    jobs = runs[runs["tags.role"] == "job"]
    parent = runs[runs["tags.role"] == "sweep"].iloc[0]
    assert parent["tags.pid"] not in set(jobs["tags.pid"])  # the trials ran in Ray's workers
    assert {t.state.name for t in study(tmp_path).trials} <= {"COMPLETE", "PRUNED"}


@pytest.fixture
def two_ray_nodes(tmp_path):
    """A Ray cluster of two one-CPU nodes on this machine: the head, and a node started in a
    UTS namespace whose hostname is ray-node-b (as root); (its address, the environment of a
    process that joins it). The cluster's token travels as a lab's does: Ray >= 2.59 turns
    token authentication on for a head that finds one, and every node and driver must then
    hold it (RAY_AUTH_MODE=token, RAY_AUTH_TOKEN_PATH). `ray stop` ends both nodes."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        unavailable("a second host identity needs root and unshare (util-linux)", "two-node Ray")
    ray = str(Path(sys.executable).with_name("ray"))
    address = f"127.0.0.1:{free_port()}"
    token = tmp_path / "ray_token"
    token.write_text(secrets.token_hex(32))
    env = {**QUIET, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}
    node = ["--num-cpus=1", "--object-store-memory=100000000", "--node-ip-address=127.0.0.1"]
    head = [ray, "start", "--head", f"--port={address.split(':')[1]}", "--include-dashboard=false"]
    second = ["unshare", "--uts", "sh", "-c", 'hostname ray-node-b && exec "$0" "$@"',
              ray, "start", f"--address={address}"]  # fmt: skip
    try:
        for command in (head + node, second + node):
            started = subprocess.run(
                command, env={**os.environ, **env}, capture_output=True, text=True, timeout=120
            )
            assert started.returncode == 0, started.stderr[-2000:]
        yield address, env
    finally:
        subprocess.run([ray, "stop", "--force"], capture_output=True, timeout=120)


def status_rows(uri: str, experiment: str, cwd: Path) -> list[list[str]]:
    """`unetexp status`'s job rows as a user reads them: job, state, run, host, pid, epoch, ..."""
    out = run_cli("status", "--tracking-uri", uri, "--experiment", experiment, cwd=cwd)
    return [line.split() for line in out.stdout.splitlines() if line.lstrip().startswith("#")]


@pytest.mark.slow
def test_a_sweep_on_two_ray_nodes_logs_to_the_postgresql_server(two_ray_nodes, pg_server, tmp_path):
    """Two jobs of one CPU each on two one-CPU nodes: one runs on each, both under one parent;
    `unetexp status`, polled while they run, shows each RUNNING on its host at its epoch."""
    epochs = 30  # tiny epochs; a job is RUNNING from its claim, before Keras loads
    address, ray_env = two_ray_nodes
    sweep = start_cli(
        "-m",
        "hydra/launcher=ray_cluster",
        f"hydra.launcher.ray.init.address={address}",
        "model.depth=1,2",
        *TINY,
        f"train.epochs={epochs}",
        ONE_THREAD,
        f"tracking.uri={pg_server}",
        "tracking.experiment=two-nodes",
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        env=ray_env,
    )
    seen: dict[str, tuple[str, str, str]] = {}  # job: (host, pid, epoch) while RUNNING
    while sweep.poll() is None:
        for job, state, _, host, pid, epoch, *_ in status_rows(pg_server, "two-nodes", tmp_path):
            # (the epochs show as k/? in the instant between the run's creation and its params)
            if state == "RUNNING" and not epoch.endswith("/?"):
                seen.setdefault(job, (host, pid, epoch))
    out, _ = sweep.communicate(timeout=60)
    assert sweep.returncode == 0, out[-3000:]
    runs = client_runs(pg_server, "two-nodes")
    [parent] = [r for r in runs if r.data.tags.get("role") == "sweep"]
    children = [r for r in runs if r.data.tags.get("role") == "job"]
    assert parent.info.status == "FINISHED"
    assert sorted(r.info.status for r in children) == ["FINISHED", "FINISHED"]
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent.info.run_id}
    assert len({r.data.tags["ray_node_id"] for r in children}) == 2
    hosts = {r.data.tags["host"] for r in children}
    assert hosts == {socket.gethostname(), "ray-node-b"}
    # what status showed mid-way: both jobs running, on the hosts and pids their runs name
    by_job = {f"#{r.data.tags['job_num']}": r.data.tags for r in children}
    assert sorted(seen) == sorted(by_job), seen
    for job, (host, pid, epoch) in seen.items():
        assert (host, pid) == (by_job[job]["host"], by_job[job]["pid"])
        done, total = epoch.split("/")
        assert total == str(epochs) and 0 <= int(done) <= epochs
    [row_a, row_b] = status_rows(pg_server, "two-nodes", tmp_path)
    assert [row_a[1], row_b[1]] == ["FINISHED", "FINISHED"]
