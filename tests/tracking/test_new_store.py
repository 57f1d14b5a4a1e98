"""A new SQLite store copied from the cached empty one is the store MLflow would have built,
with its Default experiment beside it, and never replaces a store that exists."""

from __future__ import annotations

import sqlite3

import mlflow

from unetexp.tracking.new_store import create_store, template_path
from unetexp.tracking.store import artifact_location, connect


def schema(db) -> tuple[list, list, list]:
    """Tables with their columns, index names and the alembic version. Not the CREATE text:
    MLflow's own migrations write a table's CHECK constraints in varying order."""
    with sqlite3.connect(db) as con:
        names = con.execute("SELECT type, name FROM sqlite_master ORDER BY type, name").fetchall()
        columns = [
            (name, con.execute(f'PRAGMA table_info("{name}")').fetchall())
            for kind, name in names
            if kind == "table"
        ]
        version = con.execute("SELECT version_num FROM alembic_version").fetchall()
    con.close()
    return names, columns, version


def test_a_copied_store_has_mlflows_schema_and_its_own_default_experiment(tmp_path, monkeypatch):
    monkeypatch.setenv("UNETEXP_CACHE_DIR", str(tmp_path / "cache"))
    made_by_mlflow = tmp_path / "plain" / "mlflow.db"
    made_by_mlflow.parent.mkdir()
    mlflow.MlflowClient(tracking_uri=f"sqlite:///{made_by_mlflow}").search_experiments()
    uri = f"sqlite:///{tmp_path / 'copied' / 'mlflow.db'}"
    experiment_id = connect(uri, "unetexp")  # builds the cache, then copies it
    assert template_path().is_file() and str(template_path()).startswith(str(tmp_path / "cache"))
    assert schema(tmp_path / "copied" / "mlflow.db") == schema(made_by_mlflow)
    client = mlflow.MlflowClient(tracking_uri=uri)
    default = client.get_experiment("0")
    assert default.name == "Default" and default.artifact_location == artifact_location(uri) + "/0"
    run = client.create_run(experiment_id)
    client.log_metric(run.info.run_id, "test_dice", 0.5)
    client.set_terminated(run.info.run_id)
    assert client.get_run(run.info.run_id).data.metrics == {"test_dice": 0.5}


def test_an_existing_store_is_never_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("UNETEXP_CACHE_DIR", str(tmp_path / "cache"))
    db = tmp_path / "mlflow.db"
    db.write_bytes(b"someone else's store")
    assert create_store(db, (tmp_path / "artifacts").as_uri()) is False
    assert db.read_bytes() == b"someone else's store"
