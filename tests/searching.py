"""Helpers of the search sweeper's tests (tests/e2e/test_search.py, and its runs on Ray, Slurm
and PostgreSQL elsewhere): a tiny search, its study, and the check that every finished trial
is one MLflow run of the search."""

from __future__ import annotations

import optuna
import pandas as pd
import pytest
from conftest import search_runs

# 14 train, 5 validation, 5 test images of 16x16; the lr spans good to hopeless, so that the
# median pruner (after 2 trials, from epoch 1) stops some trials
TINY_SEARCH = [
    "data=synthetic",
    "data.count=24",
    "data.size=16",
    "data.val_fraction=0.25",
    "train.epochs=3",
    "train.batch_size=8",
    "tracking.sweep=tiny-search",
    "model.depth=1,2",
    "train.lr=tag(log,interval(1e-5,1e-1))",
    "hydra.sweeper.n_trials=6",
    "hydra.sweeper.batch_size=2",
    "hydra.sweeper.pruner.startup_trials=2",
    "hydra.sweeper.pruner.warmup_epochs=0",
]
JOBLIB = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "train.intra_op_threads=1"]


def search_args(tmp_path, *extra: str) -> list[str]:
    return [
        "-m",
        "hydra/sweeper=search",
        *TINY_SEARCH,
        f"tracking.uri=sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}",
        f"hydra.sweeper.storage=sqlite:///{tmp_path / 'optuna.db'}",
        "hydra.sweeper.study_name=tiny",
        *extra,
    ]


def study(tmp_path):
    return optuna.load_study(study_name="tiny", storage=f"sqlite:///{tmp_path / 'optuna.db'}")


def states(trials) -> list[str]:
    return [t.state.name for t in trials]


def check_trials_match_runs(tmp_path, n_trials: int = 6, epochs: int = 3) -> pd.DataFrame:
    """Every finished trial is one MLflow run of the search's parent: FINISHED with its
    objective for COMPLETE, KILLED with its epochs and `pruned_at_epoch` for PRUNED."""
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    runs = search_runs(uri)
    assert not (runs["status"] == "RUNNING").any()
    jobs = runs[runs["tags.role"] == "job"].set_index("run_id")
    client = mlflow.MlflowClient(uri)
    finished = [t for t in study(tmp_path).trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == n_trials
    for trial in finished:
        run = jobs.loc[trial.user_attrs["run_id"]]
        assert run["tags.optuna_trial"] == str(trial.number)
        assert float(run["params.train.lr"]) == pytest.approx(trial.params["train.lr"])
        if trial.state.name == "COMPLETE":
            assert run["status"] == "FINISHED"
            best = int(run["metrics.best_epoch"])
            at_best = [
                m.value for m in client.get_metric_history(run.name, "val_dice") if m.step == best
            ]
            assert trial.value == pytest.approx(at_best[-1])
        else:
            epoch = int(run["tags.pruned_at_epoch"])
            assert run["status"] == "KILLED" and 1 <= epoch < epochs
            assert sorted(trial.intermediate_values) == list(range(1, epoch + 1))
            steps = [m.step for m in client.get_metric_history(run.name, "val_dice")]
            assert sorted(steps) == list(range(1, epoch + 1))  # its epochs stay in MLflow
            assert pd.isna(run["metrics.test_accuracy"])  # never scored on test
    return runs
