"""Faults of a lab's tracking server mid-sweep (docs/scaling.md): the `mlflow server` restarted,
PostgreSQL under it restarted, and a server that stays away. A job retries the server for
`tracking.retry_s` (MLflow's own retry and backoff): a restart is ridden out with nothing lost,
a server gone for good ends the command in one line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import TINY, client_runs, free_port, mlflow_server, start_cli, wait_for

EPOCHS = 40  # tiny epochs: the jobs are still training when the faults come
EPOCH_METRICS = ["train_loss", "val_loss", "val_dice", "lr"]


def epochs_logged(uri: str, experiment: str) -> int:
    """The most epochs a job of the sweep has logged so far (0 while the server is away)."""
    from mlflow import MlflowClient

    try:
        runs = [r for r in client_runs(uri, experiment) if r.data.tags.get("role") == "job"]
        histories = [
            MlflowClient(uri).get_metric_history(r.info.run_id, "train_loss") for r in runs
        ]
    except Exception:
        return 0
    return max((len(h) for h in histories), default=0)


def wait_for_epochs(uri: str, experiment: str, sweep: subprocess.Popen, at_least: int) -> None:
    wait_for(
        lambda: epochs_logged(uri, experiment) >= at_least or sweep.poll() is not None, "epochs"
    )
    assert sweep.poll() is None, "the sweep ended before the fault: " + sweep.stdout.read()[-3000:]


def sweep_args(experiment: str) -> list[str]:
    return [
        "-m",
        "model.depth=1,2",
        *TINY,
        f"train.epochs={EPOCHS}",
        f"tracking.experiment={experiment}",
    ]


@pytest.mark.slow
def test_a_sweep_rides_out_restarts_of_the_server_and_of_postgresql(postgres, tmp_path):
    from mlflow import MlflowClient

    port = free_port()
    args = sweep_args("faults")
    with mlflow_server(tmp_path, postgres.uri, port) as url:
        sweep = start_cli(*args, f"tracking.uri={url}", cwd=tmp_path, stdout=subprocess.PIPE)
        wait_for_epochs(url, "faults", sweep, 2)
    # the server stopped as an admin restarts it: the jobs' requests retry until it is back
    with mlflow_server(tmp_path, postgres.uri, port):
        wait_for_epochs(url, "faults", sweep, 4)
        postgres.restart()  # the server's pooled connections break under it
        out, _ = sweep.communicate(timeout=600)
        assert sweep.returncode == 0, out[-3000:]
        runs = client_runs(url, "faults")
        assert sorted(r.info.status for r in runs) == ["FINISHED"] * 3
        jobs = [r for r in runs if r.data.tags.get("role") == "job"]
        assert len(jobs) == 2
        history = MlflowClient(url).get_metric_history
        for job in jobs:  # every epoch of every per-epoch metric, each once
            for key in EPOCH_METRICS:
                steps = [m.step for m in history(job.info.run_id, key)]
                assert sorted(steps) == list(range(1, EPOCHS + 1)), (job.info.run_id, key)


@pytest.mark.slow
def test_a_server_gone_for_good_ends_the_sweep_in_one_line_after_its_retries(postgres, tmp_path):
    with mlflow_server(tmp_path, postgres.uri) as url:
        sweep = start_cli(
            *sweep_args("gone"), "tracking.retry_s=5", f"tracking.uri={url}", cwd=tmp_path,
            stdout=subprocess.PIPE,
        )  # fmt: skip
        wait_for_epochs(url, "gone", sweep, 2)
    out, _ = sweep.communicate(timeout=300)
    assert sweep.returncode == 2, out[-3000:]
    errors = [line for line in out.splitlines() if line.startswith("unetexp: error:")]
    assert len(errors) == 1 and "FAILED: cannot write to the MLflow store" in errors[0], out
    assert "Traceback" not in out


RETRIES_AFTER = """
from unetexp.tracking.store import retry_server_for
import os
retry_server_for(120)
print(os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"], os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"])
"""


@pytest.mark.parametrize(
    "inherited,expected",
    [
        ({}, "7 1"),  # about 120 s: 2 + 4 + ... + 64
        ({"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "4"}, "4 1"),  # the user's value wins
        # a worker inherits the commands' 2 retries with their mark: the job's own apply
        (
            {
                "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
                "UNETEXP_RETRY_SET": "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
            },
            "7 1",
        ),
    ],
)
def test_a_job_retries_the_server_for_its_retry_s_unless_the_user_said_otherwise(
    inherited, expected
):
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_HTTP", "UNETEXP_RETRY"))
    }
    out = subprocess.run(
        [sys.executable, "-c", RETRIES_AFTER], env={**env, **inherited}, capture_output=True,
        text=True, check=True,
    )  # fmt: skip
    assert out.stdout.strip() == expected
