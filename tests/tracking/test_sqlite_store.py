"""The SQLite fast path reads exactly what mlflow.search_runs reads."""

from __future__ import annotations

import math

import pytest

from unetexp.errors import UnetexpError
from unetexp.tracking import sqlite_store


def test_fast_path_matches_mlflow(tmp_path):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("fast", artifact_location=(tmp_path / "a").as_uri())
    run = client.create_run(experiment, run_name="r1", tags={"role": "job", "config_hash": "abc"})
    client.log_param(run.info.run_id, "model.depth", "3")
    for step, value in enumerate([0.5, 0.7, 0.9], start=1):
        client.log_metric(run.info.run_id, "val_dice", value, step=step)
    client.log_metric(run.info.run_id, "test_loss", math.nan)
    client.set_terminated(run.info.run_id, "FINISHED")
    client.create_run(client.create_experiment("other"), run_name="elsewhere")

    fast = sqlite_store.read_runs(uri, "fast")
    slow = client.search_runs([experiment])
    assert [r.info.run_id for r in fast] == [r.info.run_id for r in slow]
    f, s = fast[0], slow[0]
    assert (f.info.run_name, f.info.status, f.info.start_time, f.info.artifact_uri) == (
        s.info.run_name,
        s.info.status,
        s.info.start_time,
        s.info.artifact_uri,
    )
    assert f.data.params == s.data.params
    assert f.data.tags == s.data.tags
    assert f.data.metrics["val_dice"] == s.data.metrics["val_dice"] == 0.9  # the latest value
    assert math.isnan(f.data.metrics["test_loss"]) and math.isnan(s.data.metrics["test_loss"])


def test_fast_path_errors(tmp_path):
    with pytest.raises(UnetexpError, match="no MLflow SQLite store there"):
        sqlite_store.read_runs(f"sqlite:///{tmp_path / 'none.db'}", "x")
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.MlflowClient(tracking_uri=uri).search_experiments()
    with pytest.raises(UnetexpError, match="tracking.experiment='nope': no such experiment"):
        sqlite_store.read_runs(uri, "nope")


def test_the_installed_mlflow_makes_a_store_of_a_tested_schema(tmp_path):
    """Fails when MLflow changes its SQL schema: compare the fast path with mlflow.search_runs
    on the new schema (the test above), then add its revision to TESTED_SCHEMAS."""
    import sqlite3

    import mlflow

    path = tmp_path / "mlflow.db"
    mlflow.MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    (revision,) = (
        sqlite3.connect(path).execute("SELECT version_num FROM alembic_version").fetchone()
    )
    assert revision in sqlite_store.TESTED_SCHEMAS, (
        f"MLflow {mlflow.__version__} makes schema {revision}, untested by the SQLite fast path"
    )


def test_a_store_of_an_unknown_schema_is_read_through_mlflow(tmp_path, monkeypatch):
    import sqlite3

    import mlflow

    from unetexp.results.runs import all_runs

    path = tmp_path / "mlflow.db"
    uri = f"sqlite:///{path}"
    client = mlflow.MlflowClient(tracking_uri=uri)
    run = client.create_run(client.create_experiment("x"), tags={"role": "job"})
    client.log_metric(run.info.run_id, "test_dice", 0.5)
    with sqlite3.connect(path) as con:  # what a store of a future MLflow looks like to us
        (known,) = con.execute("SELECT version_num FROM alembic_version").fetchone()
        con.execute("UPDATE alembic_version SET version_num = 'f00000000000'")
    with pytest.raises(sqlite_store.UnknownSchema, match="MLflow schema f00000000000 not tested"):
        sqlite_store.read_runs(uri, "x")
    with sqlite3.connect(path) as con:  # MLflow itself refuses a revision it does not know
        con.execute("UPDATE alembic_version SET version_num = ?", (known,))
    monkeypatch.delitem(sqlite_store.TESTED_SCHEMAS, known)
    runs = all_runs(uri, "x")  # untested schema: MLflow's reader, same runs
    assert [r.info.run_id for r in runs] == [run.info.run_id]
    assert runs[0].data.metrics == {"test_dice": 0.5} and type(runs[0]).__module__.startswith(
        "mlflow"
    )
