"""hydra/sweeper=search end to end: Optuna trials in batches through the basic and joblib
launchers, pruned from their epochs, visible as such in MLflow and in exports, resumed after a
kill without repeating a finished trial; its input errors in one line."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys

import pandas as pd
import pytest
from conftest import heavy_imports, run_cli, search_runs, wait_for
from searching import JOBLIB, check_trials_match_runs, search_args, states, study

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_a_search_prunes_trials_in_batches_and_shows_them(launcher, tmp_path):
    extra = JOBLIB if launcher == "joblib" else []
    out = run_cli(*search_args(tmp_path, *extra), cwd=tmp_path, timeout=500)
    assert out.returncode == 0, out.stderr[-3000:]
    trials = study(tmp_path).trials
    assert len(trials) == 6 and set(states(trials)) <= {"COMPLETE", "PRUNED"}
    assert "PRUNED" in states(trials) and "COMPLETE" in states(trials)
    runs = check_trials_match_runs(tmp_path)
    parent = runs[runs["tags.role"] == "sweep"].iloc[0]
    assert parent["status"] == "FINISHED" and parent["tags.kind"] == "optuna-search"
    assert (runs[runs["tags.role"] == "job"]["tags.mlflow.parentRunId"] == parent["run_id"]).all()
    best = study(tmp_path).best_trial
    assert parent["tags.best_run_id"] == best.user_attrs["run_id"]
    assert parent["tags.pruner"] == "median" and parent["tags.optuna_study"] == "tiny"
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    csv = mlflow.MlflowClient(uri).download_artifacts(parent["run_id"], "optuna_trials.csv")
    shown = pd.read_csv(csv)
    assert list(shown["trial"]) == [t.number for t in trials]
    assert list(shown["state"]) == states(trials)
    assert list(shown["run_id"]) == [t.user_attrs["run_id"] for t in trials]
    pruned_at = {t.number: max(t.intermediate_values) for t in trials if t.state.name == "PRUNED"}
    assert (
        shown.dropna(subset=["pruned_at_epoch"])
        .set_index("trial")["pruned_at_epoch"]
        .astype(int)
        .to_dict()
        == pruned_at
    )

    # the sweep's export shows every trial, the pruned ones with the epoch they stopped at
    export = run_cli(
        "export",
        "--sweep",
        "tiny-search",
        "--tracking-uri",
        f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}",
        cwd=tmp_path,
    )
    assert export.returncode == 0, export.stderr
    table = pd.read_csv(io.StringIO(export.stdout))
    pruned = {
        t.user_attrs["run_id"]: max(t.intermediate_values)
        for t in trials
        if t.state.name == "PRUNED"
    }
    assert len(table) == 6
    shown = table.dropna(subset=["pruned_at_epoch"])
    assert dict(zip(shown["run_id"], shown["pruned_at_epoch"].astype(int), strict=True)) == pruned
    assert table[table["pruned_at_epoch"].isna()]["test_accuracy"].notna().all()
    assert (table["n_params"] > 0).all()  # the pruned trials' too: counted before fit


def test_a_killed_search_resumes_without_repeating_a_finished_trial(tmp_path):
    args = search_args(tmp_path)
    log = open(tmp_path / "first.log", "w")  # noqa: SIM115 - the process writes it until killed
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    first = subprocess.Popen(
        [sys.executable, "-m", "unetexp", *args],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def mid_trial():
        """Two trials over and a third with an epoch reported (its checkpoint is kept)."""
        if not (tmp_path / "optuna.db").exists() or first.poll() is not None:
            return first.poll() is not None and "ended"
        try:
            trials = study(tmp_path).trials
        except Exception:  # the study (or its storage's schema) is not created yet
            return False
        done = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
        running = [t for t in trials if t.state.name == "RUNNING"]
        started = any(t.intermediate_values for t in running)
        return len(done) >= 2 and started and (done, running)

    seen = wait_for(mid_trial, "a search two trials in", timeout=400)
    assert seen != "ended", (tmp_path / "first.log").read_text()[-3000:]
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=60)
    log.close()
    done_before, killed = seen  # the batch the kill cut short: one trial started, one queued
    before = {t.number: t.user_attrs["run_id"] for t in done_before}

    out = run_cli(*args, cwd=tmp_path, timeout=500)  # the same command
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"{len(killed)} of a killed search retried first" in out.stdout + out.stderr
    trials = study(tmp_path).trials
    failed = [t for t in trials if t.state.name == "FAIL"]
    assert [t.number for t in failed] == [t.number for t in killed]  # failed, then ...
    retries = []
    for lost in killed:  # ... retried with their values
        again = [t for t in trials if t.number > lost.number and t.params == lost.params]
        assert len(again) == 1, (lost.number, lost.params)
        retries.append(again[0])
    after = {t.number: t.user_attrs.get("run_id") for t in trials if t.number in before}
    assert after == before  # finished trials untouched
    runs = check_trials_match_runs(tmp_path)
    jobs = runs[runs["tags.role"] == "job"]
    assert len(jobs) == 6  # no config trained twice: the killed trial's run was resumed
    started = next(t for t in killed if t.intermediate_values)
    retry = next(t for t in retries if t.params == started.params)
    resumed = jobs[jobs["run_id"] == retry.user_attrs["run_id"]].iloc[0]
    assert resumed["tags.resumes"] == "1"  # from its checkpoint, its epochs reported again
    assert resumed["tags.optuna_trial"] == str(retry.number)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["hydra.sweeper.objective=test_dice"],
            "hydra.sweeper.objective='test_dice' is invalid: a search watches the validation split",
        ),
        (["data.val_fraction=0"], "data.val_fraction=0.0 is invalid for a search"),
        (
            ["model.depth=choice(1,9)"],
            "search space model.depth=9: model.bottleneck=128 is invalid: must be a positive "
            "multiple of 2**model.depth = 512",
        ),
        (
            ["hydra.sweeper.pruner.name=hyperband"],
            "hydra.sweeper.pruner.name='hyperband' is invalid",
        ),
        (["train.lr=interval(0.1,0.01)"], "train.lr: interval(0.1,0.01) needs low < high"),
    ],
)
def test_a_bad_search_stops_in_one_line_before_training(extra, message, tmp_path):
    out = run_cli(*search_args(tmp_path, *extra), cwd=tmp_path)
    assert out.returncode == 2, out.stderr[-2000:]
    assert out.stderr.strip().startswith(f"unetexp: error: {message}"), out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    runs = search_runs(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    assert set(runs["tags.role"]) == {"sweep"} and set(runs["status"]) == {"FAILED"}


def test_the_retired_search_command_names_the_key_of_each_flag(tmp_path):
    out = run_cli("search", "--trials", "3", cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.strip() == (
        "unetexp: error: unetexp search takes Hydra overrides (docs/search.md): --trials is "
        "hydra.sweeper.n_trials=N"
    )


def test_nothing_to_search_is_one_line(tmp_path):
    out = run_cli("search", "data=synthetic", "data.val_fraction=0.2", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().startswith(
        "unetexp: error: hydra/sweeper=search has nothing to search"
    )


def test_showing_a_search_config_imports_neither_tensorflow_nor_optuna(tmp_path):
    assert heavy_imports("+search=final", "--cfg", "job", cwd=tmp_path) == []
    code = (
        "import sys; sys.argv = ['unetexp', '+search=final', '--cfg', 'hydra']\n"
        "from unetexp.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('OPTUNA', 'optuna' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert "n_trials: 40" in out.stdout and out.stdout.strip().endswith("OPTUNA False")
