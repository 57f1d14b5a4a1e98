"""Export reads runs logged before params left out `None` values, and the runs after."""

from __future__ import annotations

from unetexp.results.runs import load_runs


def test_the_sweep_column_is_empty_for_a_plain_multirun_old_or_new(tmp_path):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("unetexp", artifact_location=(tmp_path / "a").as_uri())
    for n, params in enumerate(
        [
            {"seed": "0", "tracking.sweep": "None", "data.count": "200"},  # before: every key
            {"seed": "1"},  # now: no None, no other data source's key
            {"seed": "2", "tracking.sweep": "depth"},
        ]
    ):
        run = client.create_run(experiment, tags={"role": "job", "config_hash": str(n)})
        for key, value in params.items():
            client.log_param(run.info.run_id, key, value)
        client.log_metric(run.info.run_id, "test_accuracy", 0.5)
        client.set_terminated(run.info.run_id, "FINISHED")
    runs = load_runs(uri, "unetexp").set_index("seed")
    assert runs.loc[0, "sweep"] == "" and runs.loc[1, "sweep"] == ""
    assert runs.loc[2, "sweep"] == "depth"
