"""A new SQLite store in milliseconds instead of seconds.

MLflow builds a new SQLite store by running its whole alembic migration history (about 3 s
on a quiet 2-core machine, 7 s on a busy one), once per store: every fresh store of a test, a
benchmark or a new project pays it. The first store this MLflow version creates is kept, empty,
in the user's cache; later ones are copies of it, created atomically (a plain `mlflow`
process creating the same file at the same moment wins, and we open its store instead).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

CACHE_ENV = "UNETEXP_CACHE_DIR"


def template_path() -> Path:
    """`$UNETEXP_CACHE_DIR`, else `$XDG_CACHE_HOME/unetexp`, else `~/.cache/unetexp`; one file
    per MLflow version (its schema is the version's alembic head)."""
    from importlib.metadata import version

    root = (
        os.environ.get(CACHE_ENV)
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "unetexp"
    )
    return Path(root) / f"mlflow-{version('mlflow')}-empty.db"


def _build_template(template: Path) -> None:
    """Let MLflow create and migrate an empty store, then move it into the cache atomically."""
    import mlflow

    template.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=template.parent) as folder:
        db = Path(folder) / "empty.db"
        mlflow.MlflowClient(tracking_uri=f"sqlite:///{db}").search_experiments()
        os.replace(db, template)


def create_store(db: Path, artifact_root: str) -> bool:
    """Create the SQLite store `db` as a copy of the cached empty store (built on first use),
    its Default experiment's artifacts under `artifact_root`. Returns False, having done
    nothing, when `db` exists or the cache cannot be used (MLflow then creates it its way)."""
    if db.exists():
        return False
    try:
        template = template_path()
        if not template.is_file():
            _build_template(template)
        db.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=db.parent, prefix=f".{db.name}.", delete=False) as tmp:
            partial = Path(tmp.name)
        try:
            shutil.copyfile(template, partial)
            umask = os.umask(0)
            os.umask(umask)
            partial.chmod(0o666 & ~umask)  # as MLflow's own file would be, not the temp file's 0600
            _own_default_experiment(partial, artifact_root)
            os.link(partial, db)  # atomic: fails when the store appeared meanwhile
        finally:
            partial.unlink(missing_ok=True)
    except (OSError, sqlite3.Error):
        return False
    return True


def _own_default_experiment(db: Path, artifact_root: str) -> None:
    """The copy's Default experiment (id 0): created now, its artifacts beside this store."""
    now = int(time.time() * 1000)
    with sqlite3.connect(db) as con:
        con.execute(
            "UPDATE experiments SET artifact_location = ?, creation_time = ?, "
            "last_update_time = ? WHERE experiment_id = 0",
            (f"{artifact_root.rstrip('/')}/0", now, now),
        )
    con.close()
