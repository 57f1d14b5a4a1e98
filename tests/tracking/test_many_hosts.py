"""Several hosts, one MLflow server on PostgreSQL: processes with host identities of their own
(Linux UTS namespaces: `unshare --uts` and a hostname, as root) share the server, and each
config is trained once; a job killed on one host is trained by another's waiting sweep once
its heartbeat is stale (tracking/claim.py, tracking/heartbeat.py)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from conftest import client_runs, unavailable

TINY_DATA = ["data=synthetic", "data.count=24", "data.size=32"]


def on_host(host: str, *args: str, cwd: Path) -> subprocess.Popen:
    """`python -m unetexp ARGS` in a UTS namespace whose hostname is `host`."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        unavailable("host identities need root and unshare (util-linux)", "many-host")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.Popen(
        ["unshare", "--uts", "sh", "-c", f'hostname {host} && exec "$0" "$@"', sys.executable,
         "-m", "unetexp", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip


def jobs(uri: str, experiment: str = "unetexp") -> list:
    return [r for r in client_runs(uri, experiment) if r.data.tags.get("role") == "job"]


@pytest.mark.slow
def test_two_identical_sweeps_from_two_hosts_train_each_config_once(pg_server, tmp_path):
    args = ["-m", "+sweep=depth", *TINY_DATA, "train.epochs=1", f"tracking.uri={pg_server}",
            f"train.checkpoint_dir={tmp_path / 'checkpoints'}"]  # fmt: skip
    sweeps = [on_host(host, *args, cwd=tmp_path) for host in ("node-a", "node-b")]
    for sweep in sweeps:
        out, _ = sweep.communicate(timeout=900)
        assert sweep.returncode == 0, out[-3000:]
    runs = jobs(pg_server)
    finished = sorted(r.data.params["model.depth"] for r in runs if r.info.status == "FINISHED")
    assert finished == ["1", "2", "3", "4", "5"]  # each config once, whichever host trained it
    assert [r for r in runs if r.info.status == "RUNNING"] == []
    parents = [r for r in client_runs(pg_server) if r.data.tags.get("role") == "sweep"]
    assert sorted(p.info.status for p in parents) == ["FINISHED", "FINISHED"]
    reused = sum(k.startswith("reused.") for p in parents for k in p.data.tags)
    assert reused == 5  # every config trained by one sweep was reused by the other


@pytest.mark.slow
def test_two_sweeps_of_different_configs_from_two_hosts_train_the_shared_one_once(
    pg_server, tmp_path
):
    """Depths 1,2 on node-a and 2,3 on node-b, started together: depth 2, in both, is trained
    by one of them and reused by the other; the configs of one sweep only are trained once."""
    common = [*TINY_DATA, "train.epochs=1", f"tracking.uri={pg_server}",
              "tracking.experiment=shared-rows",  # the module's server holds other tests' runs
              f"train.checkpoint_dir={tmp_path / 'checkpoints'}"]  # fmt: skip
    sweeps = [
        on_host("node-a", "-m", "model.depth=1,2", *common, cwd=tmp_path),
        on_host("node-b", "-m", "model.depth=2,3", *common, cwd=tmp_path),
    ]
    for sweep in sweeps:
        out, _ = sweep.communicate(timeout=900)
        assert sweep.returncode == 0, out[-3000:]
    runs = jobs(pg_server, "shared-rows")
    finished = sorted(r.data.params["model.depth"] for r in runs if r.info.status == "FINISHED")
    assert finished == ["1", "2", "3"]
    assert [r for r in runs if r.info.status == "RUNNING"] == []
    parents = [r for r in client_runs(pg_server, "shared-rows") if r.data.tags["role"] == "sweep"]
    assert sorted(p.info.status for p in parents) == ["FINISHED", "FINISHED"]
    assert sum(k.startswith("reused.") for p in parents for k in p.data.tags) == 1


@pytest.mark.slow
def test_a_job_killed_on_host_b_is_trained_by_host_a_once_its_heartbeat_is_stale(
    pg_server, tmp_path
):
    stale_after = 15
    args = [*TINY_DATA, "train.epochs=40", "seed=7", f"tracking.uri={pg_server}",
            "tracking.heartbeat_s=1", f"tracking.stale_after_s={stale_after}",
            "train.resume=false"]  # fmt: skip
    b = on_host("node-b", *args, cwd=tmp_path)
    deadline = time.monotonic() + 300
    while not [r for r in jobs(pg_server) if r.data.params.get("seed") == "7"]:
        assert b.poll() is None and time.monotonic() < deadline, "node-b never started its run"
        time.sleep(0.2)  # polling the server for node-b's run, not timing it
    [dead] = [r for r in jobs(pg_server) if r.data.params.get("seed") == "7"]
    b.send_signal(signal.SIGKILL)
    b.wait(timeout=60)
    killed_at = time.time()

    a = on_host("node-a", *args, cwd=tmp_path)  # the same config, node-b's run still RUNNING
    out, _ = a.communicate(timeout=600)
    assert a.returncode == 0, out[-3000:]
    assert f"waiting for run {dead.info.run_id}" in out  # alive at first: its heartbeat was fresh
    closed = [r for r in client_runs(pg_server) if r.info.run_id == dead.info.run_id][0]
    assert closed.info.status == "KILLED"
    assert closed.data.tags["killed_reason"].startswith("no heartbeat for ")
    assert "(host node-b, pid " in closed.data.tags["killed_reason"]
    assert "closed by node-a pid " in closed.data.tags["killed_reason"]
    trained = [r for r in jobs(pg_server) if r.data.params.get("seed") == "7"]
    assert sorted(r.info.status for r in trained) == ["FINISHED", "KILLED"]
    [new] = [r for r in trained if r.info.status == "FINISHED"]
    assert new.data.tags["host"] == "node-a"
    # node-a started training it within the heartbeat timeout plus a minute of the kill
    assert new.info.start_time / 1000 - killed_at < stale_after + 60


@pytest.mark.slow
def test_two_search_sweepers_on_two_hosts_share_one_study_in_postgresql(
    postgres, pg_server, tmp_path
):
    """The study in a database of the tracking server's PostgreSQL (its own: Optuna's and
    MLflow's schemas both keep an `alembic_version` table), two sweepers of one command on two
    hosts at once: they create the storage together, each runs trials, and they stop once the
    study holds n_trials between them."""
    import optuna
    from conftest import _pg_tool

    port = urlparse(postgres.uri).port
    subprocess.run(
        ["runuser", "-u", "postgres", "--", str(_pg_tool("createdb")), "-h", "127.0.0.1",
         "-p", str(port), "optuna"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    storage = f"postgresql://postgres@127.0.0.1:{port}/optuna"
    args = ["-m", "hydra/sweeper=search", *TINY_DATA, "data.val_fraction=0.25", "train.epochs=2",
            "model.depth=1,2", "train.lr=tag(log,interval(1e-4,1e-2))",
            "hydra.sweeper.n_trials=4", "hydra.sweeper.batch_size=1",
            f"hydra.sweeper.storage={storage}", "hydra.sweeper.study_name=shared",
            f"tracking.uri={pg_server}", "tracking.experiment=shared-search",
            f"train.checkpoint_dir={tmp_path / 'checkpoints'}"]  # fmt: skip
    sweeps = [on_host(host, *args, cwd=tmp_path) for host in ("node-a", "node-b")]
    for sweep in sweeps:
        out, _ = sweep.communicate(timeout=900)
        assert sweep.returncode == 0, out[-3000:]
    trials = optuna.load_study(study_name="shared", storage=storage).trials
    states = [t.state.name for t in trials]
    assert set(states) <= {"COMPLETE", "PRUNED"} and 4 <= len(trials) <= 5  # one batch over
    runs = jobs(pg_server, "shared-search")
    assert [r for r in runs if r.info.status == "RUNNING"] == []
    by_id = {r.info.run_id: r for r in runs}
    assert {t.user_attrs["run_id"] for t in trials} <= set(by_id)
    assert {by_id[t.user_attrs["run_id"]].data.tags["host"] for t in trials} == {"node-a", "node-b"}
