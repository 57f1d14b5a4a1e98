"""`unetexp status`: a sweep's jobs on one screen from the store alone (commands/status.py)."""

from __future__ import annotations

import time

import pytest
from conftest import heavy_imports, run_cli

from unetexp.tracking.store import client, connect


@pytest.fixture
def sweep_in_progress(store) -> dict[str, str]:
    """A 4-job depth sweep as a store holds it mid-way: job 1 FINISHED (60 s), job 2 RUNNING on
    this machine's neighbour at epoch 4 of 10 (heartbeat 12 s ago), job 3 FAILED, job 4 not
    started yet; and an older sweep that must not be shown."""
    mlflow_client = client(store)
    experiment_id = connect(store, "unetexp")
    mlflow_client.create_run(experiment_id, tags={"role": "sweep", "sweep": "depth"}, start_time=1)
    now_ms = int(time.time() * 1000)
    parent = mlflow_client.create_run(
        experiment_id,
        tags={"role": "sweep", "sweep": "depth", "n_jobs": "4"},
        start_time=now_ms - 120_000,
    ).info.run_id
    ids = {"parent": parent}

    def child(job: int, status: str | None, name: str, **tags: str) -> str:
        run = mlflow_client.create_run(
            experiment_id,
            run_name=name,
            start_time=now_ms - 100_000,
            tags={"mlflow.parentRunId": parent, "role": "job", "job_num": str(job), **tags},
        )
        mlflow_client.log_param(run.info.run_id, "train.epochs", "10")
        if status:
            mlflow_client.set_terminated(run.info.run_id, status, end_time=now_ms - 40_000)
        return run.info.run_id

    ids["done"] = child(1, "FINISHED", "s0 d1", host="node-a", pid="11")
    mlflow_client.log_metric(ids["done"], "epochs_run", 10)
    ids["running"] = child(
        2, None, "s0 d2", host="node-b", pid="22", heartbeat=f"{time.time() - 12:.0f}"
    )
    for step in range(1, 5):
        mlflow_client.log_metric(ids["running"], "train_loss", 0.5, step=step)
    ids["failed"] = child(3, "FAILED", "s0 d3", host="node-a", pid="33")
    return ids


def test_status_shows_every_job_of_the_latest_sweep_and_the_time_left(
    sweep_in_progress, store, tmp_path
):
    out = run_cli("status", "--tracking-uri", store, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"sweep depth  parent {sweep_in_progress['parent']} (RUNNING")
    assert lines[0].endswith(", 4 jobs)")
    assert lines[1] == "FINISHED 1  RUNNING 1  FAILED 1  KILLED 0  not started 1"
    # one job not started (60 s) and 60 % of the running one, one job at a time: 96 s
    assert lines[2] == "time left: about 2 min (1 finished jobs, 60 s each)"
    rows = [line.split() for line in lines[5:]]
    assert [r[:6] for r in rows] == [
        ["#1", "FINISHED", sweep_in_progress["done"][:8], "node-a", "11", "10/10"],
        ["#2", "RUNNING", sweep_in_progress["running"][:8], "node-b", "22", "4/10"],
        ["#3", "FAILED", sweep_in_progress["failed"][:8], "node-a", "33", "0/10"],
    ]
    assert rows[0][6] == "-" and rows[2][6] == "-"
    assert 12 <= int(rows[1][6]) < 12 + 120 and rows[1][7:9] == ["s", "ago"]  # its heartbeat


def test_status_of_a_missing_sweep_is_one_line_and_imports_no_tensorflow(store, tmp_path):
    connect(store, "unetexp")
    out = run_cli("status", "--sweep", "convs", "--tracking-uri", store, cwd=tmp_path)
    assert out.returncode == 2
    assert (
        out.stderr.strip()
        == "unetexp: error: no sweep named convs in experiment unetexp of this store"
    )
    assert "tensorflow" not in heavy_imports("status", "--tracking-uri", store, cwd=tmp_path)
