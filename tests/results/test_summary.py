"""A sweep's summary on its parent run, from real runs in a real MLflow store (no training)."""

from __future__ import annotations

import pytest

from unetexp.results.summary import TABLE, seedless
from unetexp.tracking.hydra_callback import summarise

DICE = {(1, 0): 0.60, (1, 1): 0.64, (2, 0): 0.70, (2, 1): 0.74}  # (depth, seed) -> test_dice
VAL_DICE = {(1, 0): 0.80, (1, 1): 0.84, (2, 0): 0.50, (2, 1): 0.54}  # depth 1 validates better


def sweep_store(tmp_path, val_fraction: str):
    """A parent and its four FINISHED children (depth 1, 2 x seed 0, 1) in a real store."""
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("unetexp", artifact_location=(tmp_path / "a").as_uri())
    parent = client.create_run(
        experiment, run_name="sweep", tags={"role": "sweep", "decided": "yes"}
    )
    parent_id = parent.info.run_id
    for (depth, seed), dice in DICE.items():
        child = client.create_run(
            experiment,
            run_name=f"s{seed} d{depth} c1 transpose2 b128 bce",
            tags={"role": "job", "config_hash": f"{depth}{seed}", "mlflow.parentRunId": parent_id},
        )
        run_id = child.info.run_id
        params = {"model.depth": depth, "seed": seed, "loss.name": "bce"}
        for key, value in {**params, "data.val_fraction": val_fraction}.items():
            client.log_param(run_id, key, str(value))
        client.log_metric(run_id, "test_dice", dice)
        client.log_metric(run_id, "test_accuracy", dice + 0.2)
        client.log_metric(run_id, "val_dice", VAL_DICE[depth, seed])
        client.set_terminated(run_id, "FINISHED")
    summarise(uri, "unetexp", parent_id)
    return client, parent_id


def test_the_parent_gets_params_a_table_summary_metrics_and_the_best_config(tmp_path):
    import pandas as pd

    client, parent_id = sweep_store(tmp_path, "0.0")

    data = client.get_run(parent_id).data
    assert data.params["model.depth"] == "1,2" and data.params["seed"] == "0,1"
    assert data.params["loss.name"] == "bce" and data.params["swept"] == "model.depth,seed"
    # no per-config metric: only the summary/ section, apart from the jobs' own names
    assert data.metrics == {
        "summary/configs": 2.0,
        "summary/runs": 4.0,
        "summary/best_test_dice": pytest.approx(0.72),
        "summary/best_test_accuracy": pytest.approx(0.92),
    }
    # validation was the test split: the choice is named for what it is
    assert data.tags["best_config_by_test_dice"] == "d2 c1 transpose2 b128 bce"
    assert "best_config" not in data.tags
    assert "by test Dice" in data.tags["mlflow.note.content"]
    assert f"unetexp report --parent {parent_id}" in data.tags["mlflow.note.content"]
    assert data.tags["decided"] == "yes"  # tags set by others (a sweeper) stay
    table = pd.read_csv(client.download_artifacts(parent_id, TABLE, str(tmp_path)))
    assert list(table["config"]) == ["d2 c1 transpose2 b128 bce", "d1 c1 transpose2 b128 bce"]
    assert list(table.columns) == [
        "config", "n", "seeds", "test_accuracy_mean", "test_accuracy_std",
        "test_dice_mean", "test_dice_std",
    ]  # fmt: skip
    assert table["test_dice_mean"].tolist() == [0.72, 0.62]
    assert table["test_dice_std"].tolist() == [round(0.04 / 2**0.5, 4)] * 2
    assert table["seeds"].tolist() == ["0,1", "0,1"]


def test_with_a_validation_split_the_best_config_is_chosen_by_validation_dice(tmp_path):
    client, parent_id = sweep_store(tmp_path, "0.1")

    data = client.get_run(parent_id).data
    assert data.tags["best_config"] == "d1 c1 transpose2 b128 bce"  # not d2, the test's best
    assert "best_config_by_test_dice" not in data.tags
    assert data.metrics["summary/best_val_dice"] == pytest.approx(0.82)
    assert data.metrics["summary/best_test_dice"] == pytest.approx(0.62)
    assert "by validation Dice (82.0 %)" in data.tags["mlflow.note.content"]


def test_config_labels_drop_the_seed_only():
    assert seedless("s12 d3 c1 transpose2 b128 bce") == "d3 c1 transpose2 b128 bce"
    assert seedless("trial3-a0.412") == "trial3-a0.412"


def test_a_sweeps_report_goes_to_its_latest_finished_parent_not_a_later_killed_one(tmp_path):
    import mlflow

    from unetexp.results.runs import all_runs, report_parent, sweep_parents

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("unetexp", artifact_location=(tmp_path / "a").as_uri())
    ids = {}
    for start, status in [(1000, "FINISHED"), (2000, "FINISHED"), (3000, "KILLED")]:
        run = client.create_run(
            experiment, start_time=start, tags={"role": "sweep", "sweep": "depth"}
        )
        client.set_terminated(run.info.run_id, status)
        ids[start] = run.info.run_id
    parents = sweep_parents(all_runs(uri, "unetexp"), "depth")
    assert [p.info.run_id for p in parents] == [ids[1000], ids[2000], ids[3000]]
    assert report_parent(parents).info.run_id == ids[2000]
    assert report_parent(parents[2:]).info.run_id == ids[3000]  # only a killed one: still it
    assert report_parent([]) is None
