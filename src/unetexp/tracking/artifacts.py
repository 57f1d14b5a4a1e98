"""Files attached to a run after the fact (the report's pages and pictures on a sweep's parent)."""

from __future__ import annotations

from pathlib import Path

from unetexp.tracking.store import client


def log_files(uri: str | None, run, files: list[Path], folder: str) -> None:
    """Attach files to a run (finished or not) as artifacts under `folder`. A local artifact
    store is a folder: copy into it, as MLflow's local repository does, without importing
    mlflow; any other store goes through mlflow."""
    if run.info.artifact_uri.startswith("file://"):
        import shutil
        from urllib.parse import unquote, urlparse

        target = Path(unquote(urlparse(run.info.artifact_uri).path)) / folder
        target.mkdir(parents=True, exist_ok=True)
        for path in files:
            shutil.copy2(path, target / path.name)
        return
    mlflow_client = client(uri)
    for path in files:
        mlflow_client.log_artifact(run.info.run_id, str(path), artifact_path=folder)
