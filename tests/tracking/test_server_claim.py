"""Exactly once through a tracking server, where no lock spans the claimants (tracking/claim.py,
`_settle` and `_won_resume`): processes that claim one config at the same moment agree on one
owner, of a new run or of a KILLED one they could all resume; the others reuse its run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import client_runs

CLAIMANT = """
import sys, time
from pathlib import Path
from unetexp.tracking.job import job_run
uri, go, experiment = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
checkpoints = Path(sys.argv[4]) if len(sys.argv) > 4 else None
print("READY", flush=True)
while not go.exists():  # every claimant starts its claim at the same moment
    time.sleep(0.01)
tags = {"config_hash": "race", "data_sha256": "d" * 64, "role": "job"}
with job_run(uri, experiment, "race", tags, {"seed": 0}, checkpoints=checkpoints) as run:
    if not run.reused:
        time.sleep(2.0)  # the training the others must not repeat
    what = "REUSED" if run.reused else "RESUMED" if run.resumed else "TRAINED"
    print(what, run.run_id, flush=True)
"""

BIDDER = """
import sys, time
from pathlib import Path
from mlflow import MlflowClient
from unetexp.tracking.claim import _won_resume
uri, go, run_id = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
mlflow_client = MlflowClient(uri)
print("READY", flush=True)
while not go.exists():
    time.sleep(0.01)
print("WON" if _won_resume(mlflow_client, run_id) else "LOST", flush=True)
"""


def released_together(script: str, *args: str, folder: Path, answers: tuple[str, ...]) -> list[str]:
    """Four processes of `script URI GO ARGS...` released at once; each one's answer: its stdout
    line that starts with one of `answers` (MLflow adds "View run ... at" lines to it)."""
    go = folder / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, args[0], str(go), *args[1:]],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for proc in procs:  # each has imported MLflow and waits for the go
        assert proc.stdout.readline().strip() == "READY", proc.stderr.read()
    go.touch()
    lasts = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        [answer] = [line for line in out.splitlines() if line.startswith(answers)]
        lasts.append(answer)
    return lasts


@pytest.fixture(params=["sqlite", "postgresql"])
def any_server(request):
    """The tracking server on each backend store: SQLite, and PostgreSQL (a lab's)."""
    return request.getfixturevalue("server" if request.param == "sqlite" else "pg_server")


def race(uri: str, folder: Path, experiment: str, *extra: str) -> list[tuple[str, str]]:
    """Four claimants of one config released at once in `experiment`; what each did
    (TRAINED, RESUMED, REUSED) and its run."""
    answers = ("TRAINED ", "RESUMED ", "REUSED ")
    lasts = released_together(CLAIMANT, uri, experiment, *extra, folder=folder, answers=answers)
    return [tuple(line.split()) for line in lasts]  # type: ignore[misc]


@pytest.mark.slow
def test_four_processes_claiming_one_config_on_a_server_train_it_once(any_server, tmp_path):
    outcomes = race(any_server, tmp_path, "race")
    trained = [run_id for what, run_id in outcomes if what == "TRAINED"]
    reused = [run_id for what, run_id in outcomes if what == "REUSED"]
    assert len(trained) == 1 and reused == trained * 3
    runs = client_runs(any_server, "race")
    assert [(r.info.run_id, r.info.status) for r in runs] == [(trained[0], "FINISHED")]
    assert runs[0].data.tags["claim"] == "won"


def killed_run(uri: str, experiment: str, folder: Path) -> str:
    """A KILLED run of config `race` with a checkpoint of one epoch in folder/checkpoints."""
    from mlflow import MlflowClient

    mlflow_client = MlflowClient(uri)
    experiment_id = mlflow_client.create_experiment(experiment)
    tags = {"config_hash": "race", "data_sha256": "d" * 64, "role": "job"}
    killed = mlflow_client.create_run(experiment_id, tags=tags).info.run_id
    mlflow_client.set_terminated(killed, "KILLED")
    state = folder / "checkpoints" / killed
    state.mkdir(parents=True)
    (state / "epoch-1.npz").write_bytes(b"")  # saved_epoch reads the state, not the arrays
    (state / "state.json").write_text(json.dumps({"epochs": [{}], "arrays": "epoch-1.npz"}))
    return killed


@pytest.mark.slow
def test_four_bids_at_once_to_reopen_a_killed_run_have_one_winner(pg_server, tmp_path):
    """`_won_resume`, the protocol itself: every bid lands within the settle window."""
    killed = killed_run(pg_server, "bids", tmp_path)
    assert sorted(
        released_together(BIDDER, pg_server, killed, folder=tmp_path, answers=("WON", "LOST"))
    ) == [
        "LOST",
        "LOST",
        "LOST",
        "WON",
    ]


@pytest.mark.slow
def test_four_processes_finding_one_killed_run_on_a_server_resume_it_once(pg_server, tmp_path):
    """A KILLED run with a checkpoint that every claimant can read (a shared folder): one of
    them reopens it, the others wait for it and reuse it; no second training, no new run."""
    killed = killed_run(pg_server, "resume-race", tmp_path)
    outcomes = race(pg_server, tmp_path, "resume-race", str(tmp_path / "checkpoints"))
    assert sorted(what for what, _ in outcomes) == ["RESUMED", "REUSED", "REUSED", "REUSED"]
    assert {run_id for _, run_id in outcomes} == {killed}
    runs = client_runs(pg_server, "resume-race")
    assert [(r.info.run_id, r.info.status) for r in runs] == [(killed, "FINISHED")]
    assert runs[0].data.tags["resumes"] == "1"
    assert runs[0].data.tags["claim"] == "won"


@pytest.mark.slow
def test_a_new_claim_yields_to_a_run_reopened_without_a_claim_tag(server):
    """The race a clean-clone run showed: a claimant reads the RUNNING runs just before another
    reopens a KILLED one, and the KILLED runs just after, so it sees neither and starts a run.
    Its settle must find the reopened run (live, never `pending`) and yield to it."""
    import time

    from mlflow import MlflowClient

    from unetexp.tracking.claim import _settle

    mlflow_client = MlflowClient(server)
    experiment_id = mlflow_client.create_experiment("reopened")
    tags = {"config_hash": "race", "data_sha256": "d" * 64}
    beat = {"host": "host-b", "pid": "1", "heartbeat": f"{time.time():.0f}"}
    reopened = mlflow_client.create_run(experiment_id, tags={**tags, **beat}).info.run_id
    mine = mlflow_client.create_run(experiment_id, tags=tags).info.run_id
    assert _settle(mlflow_client, experiment_id, "race", "d" * 64, mine, 300.0) == reopened
    assert mlflow_client.get_run(mine).data.tags["claim"] == "pending"
