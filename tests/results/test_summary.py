"""A sweep's summary on its parent run, from real runs in a real MLflow store (no training)."""

from __future__ import annotations

import pytest

from unetexp.results.summary import metric_key, seedless
from unetexp.tracking.hydra_callback import summarise

DICE = {(1, 0): 0.60, (1, 1): 0.64, (2, 0): 0.70, (2, 1): 0.74}  # (depth, seed) -> test_dice


def test_the_parent_gets_params_per_config_mean_and_std_and_the_best_config(tmp_path):
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
        for key, value in {"model.depth": depth, "seed": seed, "loss.name": "bce"}.items():
            client.log_param(run_id, key, str(value))
        client.log_metric(run_id, "test_dice", dice)
        client.log_metric(run_id, "test_accuracy", dice + 0.2)
        client.set_terminated(run_id, "FINISHED")

    summarise(uri, "unetexp", parent_id)

    data = client.get_run(parent_id).data
    assert data.params["model.depth"] == "1,2" and data.params["seed"] == "0,1"
    assert data.params["loss.name"] == "bce" and data.params["swept"] == "model.depth,seed"
    assert data.metrics["d1 c1 transpose2 b128 bce.test_dice_mean"] == pytest.approx(0.62)
    assert data.metrics["d2 c1 transpose2 b128 bce.test_dice_mean"] == pytest.approx(0.72)
    assert data.metrics["d2 c1 transpose2 b128 bce.test_dice_std"] == pytest.approx(0.04 / 2**0.5)
    assert data.metrics["d2 c1 transpose2 b128 bce.test_accuracy_mean"] == pytest.approx(0.92)
    assert data.metrics["best_test_dice"] == pytest.approx(0.72)
    assert data.tags["best_config"] == "d2 c1 transpose2 b128 bce"
    assert data.tags["decided"] == "yes"  # tags set by others (a sweeper) stay


def test_config_labels_fit_mlflow_key_rules():
    assert seedless("s12 d3 c1 transpose2 b128 bce") == "d3 c1 transpose2 b128 bce"
    assert seedless("trial3-a0.412") == "trial3-a0.412"
    assert metric_key("d3 bce_dice(a0.3)", "test_dice_mean") == "d3 bce_dice_a0.3_.test_dice_mean"


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
