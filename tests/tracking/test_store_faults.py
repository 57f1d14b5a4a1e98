"""Storage faults (tests run as root, whom chmod does not stop: a file stands where a folder
is expected): one clear line, the run FAILED, nothing RUNNING, nothing FINISHED lost."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import TINY, make_cfg, run_cli, search_runs

from unetexp.experiment import JobContext, run_experiment
from unetexp.tracking.parent import start_parent
from unetexp.tracking.store import client, connect


def one_line(out) -> str:
    assert out.returncode == 2, out.stderr[-3000:]
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("unetexp: error: "), out.stderr[-3000:]
    return lines[0]


def test_a_store_folder_that_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / "blocked").write_text("a file where mlruns/ should be")
    out = run_cli(*TINY, f"tracking.uri=sqlite:///{tmp_path}/blocked/mlflow.db", cwd=tmp_path)
    assert "cannot use this MLflow store" in one_line(out)


@pytest.mark.slow
def test_an_artifact_folder_that_cannot_be_written_fails_the_run_only(tmp_path, store):
    experiment_id = connect(store, "unetexp")
    done = client(store).create_run(experiment_id, tags={"config_hash": "earlier"}).info.run_id
    client(store).set_terminated(done, "FINISHED")
    artifacts = Path(store[len("sqlite:///") :]).parent / "artifacts"
    artifacts.rmdir() if artifacts.is_dir() else None
    artifacts.write_text("a file where the artifact folder should be")
    out = run_cli(*TINY, f"tracking.uri={store}", cwd=tmp_path, timeout=600)
    assert "FAILED: cannot write to the MLflow store or its artifacts" in one_line(out)
    runs = search_runs(store).set_index("run_id")
    assert runs.loc[done, "status"] == "FINISHED"
    assert sorted(runs["status"]) == ["FAILED", "FINISHED"]


def test_a_store_deleted_between_two_jobs_stops_the_next_job_in_one_line(store):
    parent = start_parent(store, "unetexp", "sweep", {"role": "sweep"})
    Path(store[len("sqlite:///") :]).unlink()
    cfg = make_cfg(*TINY, f"tracking.uri={store}")
    with pytest.raises(Exception, match="deleted or replaced during the sweep") as info:
        run_experiment(cfg, JobContext(job_num=1, parent_run_id=parent))
    assert "\n" not in str(info.value)
    assert not Path(store[len("sqlite:///") :]).exists()  # no new empty store made up


def test_a_full_disk_is_one_line_and_loses_nothing(tmp_path, store):
    """A disk that takes no more bytes (every write past 64 KiB of a file fails: EFBIG, as ENOSPC
    would): the store's first write fails, one line, no run RUNNING, the FINISHED run intact."""
    import resource
    import signal

    experiment_id = connect(store, "unetexp")
    done = client(store).create_run(experiment_id, tags={"config_hash": "earlier"}).info.run_id
    client(store).set_terminated(done, "FINISHED")

    def full_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failing write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    out = run_cli(*TINY, f"tracking.uri={store}", cwd=tmp_path, preexec_fn=full_disk)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-3000:]
    assert out.stderr.strip().splitlines()[-1] == (
        f"unetexp: error: cannot start a run in the MLflow store {store} ((sqlite3."
        "OperationalError) disk I/O error (Background on this error at: "
        "https://sqlalche.me/e/21/e3q8))"
    )
    runs = search_runs(store).set_index("run_id")
    assert runs.loc[done, "status"] == "FINISHED" and list(runs["status"]) == ["FINISHED"]
