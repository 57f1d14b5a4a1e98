"""hydra/sweeper=decide from the command line: real trainings (tiny synthetic data, 1 epoch)
into a temporary MLflow store, with the basic and the joblib launcher (Ray: test_ray.py); the
decisions are read back from the sweep's parent run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import TINY, run_cli, search_runs

# table 3 (two configs, one comparison); an effect so small that only significance decides:
# rounds at 2 and 3 seeds, at most 6 runs
DECIDE = [
    "-m",
    "+sweep=upsample",
    "hydra/sweeper=decide",
    "hydra.sweeper.budget=6",
    "hydra.sweeper.initial_seeds=2",
    "hydra.sweeper.seeds_per_round=1",
    "hydra.sweeper.max_rounds=2",
    "hydra.sweeper.effect=1e-6",
    *TINY,
]
# one look (4 jobs): where a test is about the launcher, not about the rounds (basic's has two)
ONE_LOOK = [a.replace("max_rounds=2", "max_rounds=1") for a in DECIDE]
JOBLIB = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "train.intra_op_threads=1"]
TIMEOUT = 900  # six trainings take a minute; far longer on a machine shared with others
VERDICTS = ("upsampling better", "transpose better", "undecided")


def check_decisions(store: str) -> dict:
    """The parent run's record agrees with the runs it made: returns decide/decisions.json."""
    import mlflow

    runs = search_runs(store)
    parent = runs[runs["tags.role"] == "sweep"].sort_values("start_time").iloc[-1]
    jobs = runs[runs["tags.role"] == "job"]
    assert parent["status"] == "FINISHED" and (jobs["status"] == "FINISHED").all()
    tag = parent["tags.decision.upsample.upsampling_vs_transpose"]
    assert tag.startswith(VERDICTS), tag
    client = mlflow.MlflowClient(tracking_uri=store)
    result = json.loads(
        Path(client.download_artifacts(parent["run_id"], "decide/decisions.json")).read_text()
    )
    (decision,) = result["decisions"]
    rounds = len(result["rounds"])
    assert decision["verdict"] in VERDICTS and tag.startswith(decision["verdict"])
    # every round adds one seed to both configs; the decision uses every seed the sweep ran
    assert result["jobs"] == 2 * (rounds + 1) == int(parent["tags.decide.jobs"]) <= 6
    assert decision["n"] == rounds + 1 == jobs.groupby("params.model.upsample").size().max()
    assert decision["stopped"] == ("looks" if decision["verdict"] == "undecided" else "decided")
    history = client.get_metric_history(parent["run_id"], "decide_jobs")
    assert [(m.step, m.value) for m in history] == [(r, 2 * (r + 1)) for r in range(1, rounds + 1)]
    assert {a.path for a in client.list_artifacts(parent["run_id"], "decide")} == {
        "decide/decisions.json",
        "decide/decisions.md",
        *(f"decide/round_{r}.json" for r in range(1, rounds + 1)),
    }
    return result


@pytest.mark.slow
def test_decide_with_the_basic_launcher(tmp_path, store):
    out = run_cli(*DECIDE, f"tracking.uri={store}", cwd=tmp_path, timeout=TIMEOUT)
    assert out.returncode == 0, out.stderr[-3000:]
    check_decisions(store)
    assert "decide round 1: 4 jobs (4 in all)" in out.stdout + out.stderr


@pytest.mark.slow
def test_decide_with_the_joblib_launcher_then_reuses_every_run(tmp_path, store):
    out = run_cli(*ONE_LOOK, *JOBLIB, f"tracking.uri={store}", cwd=tmp_path, timeout=TIMEOUT)
    assert out.returncode == 0, out.stderr[-3000:]
    runs = search_runs(store)
    parent = runs[runs["tags.role"] == "sweep"].iloc[0]
    assert parent["tags.pid"] not in set(runs[runs["tags.role"] == "job"]["tags.pid"])
    first = check_decisions(store)
    out = run_cli(
        *ONE_LOOK, f"tracking.uri={store}", cwd=tmp_path, timeout=TIMEOUT
    )  # basic, same sweep
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"0 trained, {first['jobs']} skipped" in out.stdout + out.stderr
    assert check_decisions(store)["decisions"] == first["decisions"]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["seed=0,1"], "hydra/sweeper=decide chooses the seeds"),
        (
            ["hydra.sweeper.budget=3"],
            "hydra.sweeper.budget=3 is invalid: the first round alone is 4 runs",
        ),
        (["hydra.sweeper.alpha=2"], "hydra.sweeper.alpha=2.0 is invalid: must be in (0, 1)"),
    ],
)
def test_bad_sweeps_end_in_one_line_and_leave_nothing_running(tmp_path, store, extra, message):
    out = run_cli(*DECIDE, *extra, f"tracking.uri={store}", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith(f"unetexp: error: {message}"), out.stderr
    runs = search_runs(store)
    assert "RUNNING" not in set(runs["status"]) and "job" not in set(runs["tags.role"])
