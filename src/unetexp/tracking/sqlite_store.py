"""Read-only fast path into MLflow's SQLite store, for commands that do not train.

Importing mlflow and opening its SQLAlchemy store costs seconds (it loads its GenAI, gateway
and migration modules); export and report only need to read runs. For `sqlite:///` stores
this module reads MLflow's tables (experiments, runs, params, latest_metrics, tags) with the
standard library and returns objects shaped like `mlflow.entities.Run` (`.info`, `.data`).
This couples unetexp to MLflow's private SQL schema, so the coupling is declared: a store
whose schema revision (MLflow's alembic head, table `alembic_version`) is not one of
`TESTED_SCHEMAS` raises `UnknownSchema`, and the caller reads it through MLflow instead
(results/runs.py): slower, never wrong. `tests/tracking/test_sqlite_store.py` compares this
reader with `mlflow.search_runs` and fails when the installed MLflow makes a store of an
untested revision: check the reader against the new schema, then add the revision here.
Every other store goes through mlflow.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from unetexp.errors import UnetexpError
from unetexp.tracking.store import sqlite_path as db_path

# MLflow schema revisions this reader was compared with mlflow.search_runs on (by the test)
TESTED_SCHEMAS = {"dc11669786a5": "mlflow 3.17"}


class UnknownSchema(UnetexpError):
    """The store's schema is not one this reader was tested on: read it through MLflow."""


@dataclass
class RunInfo:
    run_id: str
    run_name: str
    status: str
    start_time: int
    experiment_id: str
    artifact_uri: str


@dataclass
class RunData:
    params: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    tags: dict = field(default_factory=dict)


@dataclass
class Run:
    info: RunInfo
    data: RunData


def read_runs(uri: str, experiment: str) -> list[Run]:
    """Every active run of the experiment with its params, latest metrics and tags."""
    path = db_path(uri)
    if path is None or not path.is_file():
        raise UnetexpError(f"tracking.uri={uri}: no MLflow SQLite store there")
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        _check_schema(con, uri)
        found = con.execute(
            "SELECT experiment_id FROM experiments WHERE name = ? AND lifecycle_stage = 'active'",
            (experiment,),
        ).fetchone()
        if found is None:
            raise UnetexpError(f"tracking.experiment={experiment!r}: no such experiment in {uri}")
        runs = {
            row[0]: Run(
                RunInfo(row[0], row[1], row[2], row[3] or 0, str(found[0]), row[4]), RunData()
            )
            for row in con.execute(
                "SELECT run_uuid, name, status, start_time, artifact_uri FROM runs "
                "WHERE experiment_id = ? AND lifecycle_stage = 'active'",
                (found[0],),
            )
        }
        for table, attribute, value in (
            ("params", "params", "t.value"),
            ("tags", "tags", "t.value"),
            ("latest_metrics", "metrics", "CASE WHEN t.is_nan THEN 'nan' ELSE t.value END"),
        ):
            for run_id, key, item in con.execute(
                f"SELECT t.run_uuid, t.key, {value} FROM {table} t JOIN runs r "
                f"ON t.run_uuid = r.run_uuid WHERE r.experiment_id = ?",
                (found[0],),
            ):
                if run_id in runs:
                    getattr(runs[run_id].data, attribute)[key] = (
                        float(item) if attribute == "metrics" else item
                    )
    except sqlite3.Error as exc:
        raise UnetexpError(f"tracking.uri={uri}: cannot read this MLflow store ({exc})") from None
    finally:
        con.close()
    return list(runs.values())


def _check_schema(con: sqlite3.Connection, uri: str) -> None:
    try:
        revision = con.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        revision = None
    if revision is None or revision[0] not in TESTED_SCHEMAS:
        raise UnknownSchema(f"{uri}: MLflow schema {revision and revision[0]} not tested here")
