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


REPORT_LINE = (
    "**Report**: the artifact {folder}/report.html (open it in the Artifacts tab): the study's "
    "tables beside these runs, and its verdicts on which of the study's conclusions hold."
)


def describe_report(uri: str | None, run, folder: str) -> None:
    """Point the run's Description (where a researcher lands) at the report just logged,
    in place of any earlier line about the report."""
    text = run.data.tags.get("mlflow.note.content", "")
    kept = [p for p in text.split("\n\n") if p and not p.startswith(("**Report**", "The report"))]
    line = REPORT_LINE.format(folder=folder)
    client(uri).set_tag(run.info.run_id, "mlflow.note.content", "\n\n".join([line, *kept]))
