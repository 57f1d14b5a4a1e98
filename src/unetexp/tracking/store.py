"""Where the MLflow store lives and how to open it: URI, SQLite file, lock, server check.

Knows nothing of Hydra or TensorFlow; mlflow itself is imported only when a store is opened,
so commands that do not train stay fast.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from unetexp.config.paths import project_root
from unetexp.errors import ConfigError, StoreError, first_line

SQLITE = "sqlite:///"
# what a new SQLite store answers while another process (one not taking our lock: mlflow ui,
# a script) creates or migrates MLflow's tables: retried (alembic's steps are not atomic
# across processes: "Online migration expected to match one row" when another moved first)
RACES = (
    "already exists",
    "database is locked",
    "no such table",
    "UNIQUE constraint failed",
    "Online migration expected",
    "duplicate column name",
)
OPEN_ATTEMPTS = 8


def default_uri() -> str:
    """SQLite in the project's mlruns/, whatever the working directory."""
    return f"{SQLITE}{project_root() / 'mlruns' / 'mlflow.db'}"


def resolve_uri(uri: str | None) -> str:
    """`tracking.uri`, else $MLFLOW_TRACKING_URI, else the project's SQLite store."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or default_uri()


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///` URI; None for any other store."""
    return Path(uri[len(SQLITE) :]) if uri.startswith(SQLITE) else None


def artifacts_next_to(db: Path) -> str:
    """Artifacts of a SQLite store go next to its file (MLflow's default is the cwd's ./mlruns)."""
    return (db.resolve().parent / "artifacts").as_uri()


def artifact_location(uri: str) -> str | None:
    """Where a store's artifacts go: next to a SQLite file; None (the server's) for any other."""
    db = sqlite_path(uri)
    return artifacts_next_to(db) if db else None


def quiet_mlflow() -> None:
    """MLflow's and alembic's INFO lines (schema creation, migrations, store opening) are not news."""
    for name in ("alembic", "mlflow"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # its database errors come back to us as exceptions, said in one line (a full disk): not
    # also as a logged traceback
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)


def client(uri: str | None):
    """An MlflowClient on the store `uri` names (resolved)."""
    import mlflow

    return mlflow.MlflowClient(tracking_uri=resolve_uri(uri))


def open_store(tracking_uri: str | None, what: str):
    """(An MlflowClient on the store, its URI) for a command that reads runs: the store must
    exist (a missing SQLite file is not created); `what` names what was looked for."""
    uri = resolve_uri(tracking_uri)
    store_file = sqlite_path(uri)
    if store_file and not store_file.is_file():
        raise StoreError(f"{what} not found: no MLflow store at {uri}")
    # stderr carries one line per skipped file: no download progress bar among them
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow

    quiet_mlflow()
    mlflow.set_tracking_uri(uri)
    return mlflow.MlflowClient(tracking_uri=uri), uri


@contextmanager
def store_lock(uri: str | None) -> Iterator[None]:
    """Serialise schema, experiment and run creation on a SQLite store: parallel jobs would
    collide on a new store, and two sweeps would both claim one config."""
    db = sqlite_path(resolve_uri(uri))
    if db is None:
        yield
        return
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.parent / ".unetexp.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _check_server(uri: str) -> None:
    """Fail in seconds, not after minutes of MLflow's retries, when a server is unreachable."""
    try:
        urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5).close()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ConfigError(f"tracking.uri={uri}: MLflow server unreachable ({reason})") from None


RETRIES, BACKOFF = "MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"
OURS = "UNETEXP_RETRY_SET"  # which of those keys in the environment we set, not the user
# the user's, read before we set any: a worker (joblib, Slurm) inherits ours, and their names
USERS_RETRY = {
    key
    for key in (RETRIES, BACKOFF)
    if key in os.environ and key not in os.environ.get(OURS, "").split(",")
}


def _set_retry(key: str, value: str) -> None:
    os.environ[key] = value
    ours = set(filter(None, os.environ.get(OURS, "").split(","))) | {key}
    os.environ[OURS] = ",".join(sorted(ours))


def retry_server_for(seconds: float) -> None:
    """A job's requests to a tracking server retry about `seconds` (at least that, under twice
    it) before they fail: a server or its database restarted is ridden out, one gone for good
    ends the job. MLflow's own retry, its exponential backoff at factor 1 (0, 2, 4, 8 ... s);
    MLFLOW_HTTP_REQUEST_MAX_RETRIES or _BACKOFF_FACTOR set by the user win."""
    retries = 0
    while 2**retries - 2 < seconds:  # urllib3 waits 0, then 2, 4, 8 ... s
        retries += 1
    for key, value in ((RETRIES, str(retries)), (BACKOFF, "1")):
        if key not in USERS_RETRY:  # MLflow reads them at every request
            _set_retry(key, value)


def connect(uri: str | None, experiment: str) -> str:
    """Point MLflow at the store and return the experiment's id, creating it if needed; runs
    left RUNNING by dead processes of this host are closed on the way (`stale`)."""
    from unetexp.tracking.stale import close_stale_runs

    uri = resolve_uri(uri)
    if uri.startswith(("http://", "https://")):
        _check_server(uri)
        # a command that reads runs fails in seconds; a job sets its own (`retry_server_for`)
        if RETRIES not in os.environ:
            _set_retry(RETRIES, "2")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    import mlflow

    quiet_mlflow()
    mlflow.set_tracking_uri(uri)
    for attempt in range(1, OPEN_ATTEMPTS + 1):
        try:
            with store_lock(uri):
                db = sqlite_path(uri)
                if db is not None:  # a new one is copied from the cached empty store
                    from unetexp.tracking.new_store import create_store

                    create_store(db, artifacts_next_to(db))
                client = mlflow.MlflowClient()
                found = client.get_experiment_by_name(experiment)
                if found is None:
                    return client.create_experiment(
                        experiment, artifact_location=artifact_location(uri)
                    )
                if found.lifecycle_stage != "deleted":
                    close_stale_runs(client, found.experiment_id)
            break
        except ConfigError:
            raise
        except Exception as exc:  # a store MLflow cannot open: say which, in one line
            if attempt < OPEN_ATTEMPTS and any(text in str(exc) for text in RACES):
                time.sleep(0.5 * attempt)  # another process (mlflow ui, a script) creates it
                continue
            raise ConfigError(
                f"tracking.uri={uri}: cannot use this MLflow store ({first_line(exc)})"
            ) from None
    assert found is not None  # the loop leaves with an experiment found, or raises
    if found.lifecycle_stage == "deleted":
        raise ConfigError(
            f"tracking.experiment={experiment!r} is deleted in {uri}: restore it "
            f"(mlflow experiments restore) or choose another name"
        )
    return found.experiment_id
