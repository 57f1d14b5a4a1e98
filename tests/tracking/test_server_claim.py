"""Exactly once through a tracking server, where no lock spans the claimants (tracking/claim.py,
`_settle`): processes that claim one config at the same moment agree on one owner; the others
withdraw their run and reuse the owner's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import client_runs

CLAIMANT = """
import sys, time
from pathlib import Path
from unetexp.tracking.job import job_run
uri, go = sys.argv[1], Path(sys.argv[2])
print("READY", flush=True)
while not go.exists():  # every claimant starts its claim at the same moment
    time.sleep(0.01)
tags = {"config_hash": "race", "data_sha256": "d" * 64, "role": "job"}
with job_run(uri, "race", "race", tags, {"seed": 0}) as run:
    if not run.reused:
        time.sleep(2.0)  # the training the others must not repeat
    print("REUSED" if run.reused else "TRAINED", run.run_id, flush=True)
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def any_server(request):
    """The tracking server on each backend store: SQLite, and PostgreSQL (a lab's)."""
    return request.getfixturevalue("server" if request.param == "sqlite" else "pg_server")


@pytest.mark.slow
def test_four_processes_claiming_one_config_on_a_server_train_it_once(any_server, tmp_path):
    go = tmp_path / "go"
    claimants = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMANT, any_server, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for claimant in claimants:  # each has imported MLflow and waits for the go
        assert claimant.stdout.readline().strip() == "READY", claimant.stderr.read()
    Path(go).touch()
    outcomes = []
    for claimant in claimants:
        out, err = claimant.communicate(timeout=300)
        assert claimant.returncode == 0, err[-2000:]
        # (MLflow adds its "View run ... at" lines to the stdout of server runs)
        [line] = [x for x in out.splitlines() if x.startswith(("TRAINED ", "REUSED "))]
        outcomes.append(line.split())
    trained = [run_id for what, run_id in outcomes if what == "TRAINED"]
    reused = [run_id for what, run_id in outcomes if what == "REUSED"]
    assert len(trained) == 1 and reused == trained * 3
    runs = client_runs(any_server, "race")
    assert [(r.info.run_id, r.info.status) for r in runs] == [(trained[0], "FINISHED")]
    assert runs[0].data.tags["claim"] == "won"
