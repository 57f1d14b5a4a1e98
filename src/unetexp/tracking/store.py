"""MLflow tracking: where the store lives, one parent run per multirun, one run per job.

Knows nothing of Hydra or TensorFlow; mlflow itself is imported only when a run starts, so
commands that do not train stay fast.
"""
from __future__ import annotations

import fcntl
import logging
import os
import socket
import subprocess
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from unetexp.errors import ConfigError
from unetexp.config.paths import project_root

PARENT_ENV = "UNETEXP_PARENT_RUN_ID"  # set for the jobs of a multirun by the Hydra callback

log = logging.getLogger(__name__)


def process_tags() -> dict[str, str]:
    """Who runs this run: lets a later start tell a crashed run from a live one."""
    return {"host": socket.gethostname(), "pid": str(os.getpid())}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def default_uri() -> str:
    """SQLite in the project's mlruns/, whatever the working directory."""
    return f"sqlite:///{project_root() / 'mlruns' / 'mlflow.db'}"


def resolve_uri(uri: str | None) -> str:
    """`tracking.uri`, else $MLFLOW_TRACKING_URI, else the project's SQLite store."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or default_uri()


def _sqlite_file(uri: str) -> Path | None:
    return Path(uri[len("sqlite:///"):]) if uri.startswith("sqlite:///") else None


def artifact_location(uri: str) -> str | None:
    """Artifacts of a SQLite store go next to its file (MLflow's default is the cwd's ./mlruns)."""
    db = _sqlite_file(uri)
    return (db.resolve().parent / "artifacts").as_uri() if db else None


@contextmanager
def _store_lock(uri: str) -> Iterator[None]:
    """Serialise schema and experiment creation: parallel jobs would collide on a new store."""
    db = _sqlite_file(uri)
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


def connect(uri: str | None, experiment: str) -> str:
    """Point MLflow at the store and return the experiment's id, creating it if needed."""
    uri = resolve_uri(uri)
    if uri.startswith(("http://", "https://")):
        _check_server(uri)
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    import mlflow

    for name in ("alembic", "mlflow"):  # schema creation and migrations are not news
        logging.getLogger(name).setLevel(logging.WARNING)
    mlflow.set_tracking_uri(uri)
    try:
        with _store_lock(uri):
            client = mlflow.MlflowClient()
            found = client.get_experiment_by_name(experiment)
            if found is None:
                return client.create_experiment(experiment, artifact_location=artifact_location(uri))
            if found.lifecycle_stage != "deleted":
                close_stale_runs(client, found.experiment_id)
    except ConfigError:
        raise
    except Exception as exc:  # a store MLflow cannot open: say which, in one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"tracking.uri={uri}: cannot use this MLflow store ({first})") from None
    if found.lifecycle_stage == "deleted":
        raise ConfigError(f"tracking.experiment={experiment!r} is deleted in {uri}: restore it "
                          f"(mlflow experiments restore) or choose another name")
    return found.experiment_id


def close_stale_runs(client, experiment_id: str) -> None:
    """End as KILLED the runs left RUNNING by a process of this host that no longer exists
    (SIGKILL, power cut), so that a restarted sweep sees them as not done."""
    host = socket.gethostname()
    stale = client.search_runs([experiment_id], filter_string=(
        f"attributes.status = 'RUNNING' and tags.host = '{host}'"), max_results=1000)
    for run in stale:
        pid = run.data.tags.get("pid", "")
        if pid.isdigit() and not _alive(int(pid)):
            client.set_terminated(run.info.run_id, "KILLED")
            log.info("run %s of dead process %s marked KILLED", run.info.run_id, pid)


def find_finished(uri: str | None, experiment: str, config_hash: str) -> str | None:
    """The id of a FINISHED run of this experiment with this config hash, if any."""
    import mlflow

    experiment_id = connect(uri, experiment)
    runs = mlflow.MlflowClient().search_runs([experiment_id], filter_string=(
        f"tags.config_hash = '{config_hash}' and attributes.status = 'FINISHED'"), max_results=1)
    return runs[0].info.run_id if runs else None


def check_parent(uri: str | None, parent_run_id: str | None) -> None:
    """A job's parent run must be in the job's store. A job that a launcher runs on another
    machine finds no SQLite file there (or another one): it needs a tracking server."""
    db = _sqlite_file(resolve_uri(uri))
    if not parent_run_id or db is None:
        return
    found = db.is_file()
    if found:
        import mlflow

        try:
            mlflow.MlflowClient(tracking_uri=resolve_uri(uri)).get_run(parent_run_id)
        except Exception:
            found = False
    if not found:
        raise ConfigError(
            f"tracking.uri={resolve_uri(uri)}: this job's parent run {parent_run_id} is not in "
            f"this store: jobs on another machine cannot share a local SQLite file; start "
            f"`mlflow server` and set tracking.uri=http://HOST:PORT (README: Scaling out)")


def note_failure(uri: str | None, parent_run_id: str | None, job_num: int | None,
                 message: str) -> bool:
    """Record on the parent why job `job_num` failed (tag `error.<job>`); False when the parent
    is out of reach. The process that started the sweep reports these at its end."""
    if not parent_run_id:
        return False
    import mlflow

    try:
        mlflow.MlflowClient(tracking_uri=resolve_uri(uri)).set_tag(
            parent_run_id, f"error.{job_num}", message[:5000])
    except Exception:
        return False
    return True


def sweep_failures(uri: str | None, parent_run_id: str) -> list[str]:
    """The errors its jobs recorded on a parent run, by job number: `[#3] message`."""
    import mlflow

    tags = mlflow.MlflowClient(tracking_uri=resolve_uri(uri)).get_run(parent_run_id).data.tags
    errors = {key.split(".", 1)[1]: value for key, value in tags.items() if key.startswith("error.")}
    return [f"[#{num}] {errors[num]}" for num in sorted(errors, key=lambda n: (len(n), n))]


def note_reused(uri: str | None, parent_run_id: str | None, job_num: int | None, run_id: str) -> None:
    """Record on the parent that job `job_num` reused `run_id`: exports of the sweep find it."""
    if parent_run_id:
        import mlflow

        mlflow.MlflowClient(tracking_uri=resolve_uri(uri)).set_tag(
            parent_run_id, f"reused.{job_num}", run_id)


def sweep_counts(uri: str | None, parent_run_id: str) -> tuple[int, int]:
    """(jobs trained, jobs skipped) of a sweep, for its closing line."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=resolve_uri(uri))
    parent = client.get_run(parent_run_id)
    children = client.search_runs([parent.info.experiment_id], filter_string=(
        f"tags.mlflow.parentRunId = '{parent_run_id}'"), max_results=10000)
    return len(children), sum(key.startswith("reused.") for key in parent.data.tags)


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
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=resolve_uri(uri))
    for path in files:
        client.log_artifact(run.info.run_id, str(path), artifact_path=folder)


def git_commit() -> str | None:
    """HEAD of the project's checkout, when it is one."""
    try:
        out = subprocess.run(["git", "-C", str(project_root()), "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def start_parent(uri: str | None, experiment: str, name: str, tags: dict[str, str]) -> str:
    """The parent run of a multirun; its jobs become its nested children."""
    import mlflow

    experiment_id = connect(uri, experiment)
    run = mlflow.MlflowClient().create_run(experiment_id, run_name=name,
                                           tags={**tags, **process_tags()})
    return run.info.run_id


def end_parent(uri: str | None, run_id: str | None, status: str) -> None:
    """Close the parent unless it is already closed (a failed job closes it first)."""
    if not run_id:
        return
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=resolve_uri(uri))
    if client.get_run(run_id).info.status == "RUNNING":
        client.set_terminated(run_id, status)


def end_running_children(uri: str | None, parent_run_id: str, status: str) -> None:
    """End the child runs still RUNNING under a parent whose multirun stopped (their workers
    were stopped with it)."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=resolve_uri(uri))
    experiment_id = client.get_run(parent_run_id).info.experiment_id
    for run in client.search_runs([experiment_id], filter_string=(
            f"tags.mlflow.parentRunId = '{parent_run_id}' and attributes.status = 'RUNNING'"),
            max_results=10000):
        client.set_terminated(run.info.run_id, status)


class JobRun:
    """The MLflow run of one training job, logging under the names the README lists."""

    def __init__(self, mlflow, run_id: str):
        self._mlflow, self.run_id = mlflow, run_id

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        self._mlflow.log_metrics(metrics, step=epoch)

    def log_result(self, metrics: dict[str, float], artifacts: dict[str, str | dict]) -> None:
        """Final metrics, and artifacts by file name: text for .yaml/.txt, dicts for .json,
        a Path for a file already written under that same name (.png, .keras)."""
        self._mlflow.log_metrics(metrics)
        for name, content in artifacts.items():
            if isinstance(content, Path):
                self._mlflow.log_artifact(str(content))
            elif isinstance(content, dict):
                self._mlflow.log_dict(content, name)
            else:
                self._mlflow.log_text(content, name)


@contextmanager
def job_run(uri: str | None, experiment: str, run_name: str, tags: dict[str, str],
            params: dict, parent_run_id: str | None = None) -> Iterator[JobRun]:
    """One run that always ends: FINISHED, FAILED on an error, KILLED on Ctrl-C; and a failed
    job closes its parent too (Hydra calls no multirun-end callback after a failure)."""
    import mlflow

    experiment_id = connect(uri, experiment)
    run = mlflow.start_run(experiment_id=experiment_id, run_name=run_name,
                           tags={**tags, **process_tags()}, parent_run_id=parent_run_id)
    try:
        mlflow.log_params({k: "None" if v is None else v for k, v in params.items()})
        yield JobRun(mlflow, run.info.run_id)
    except BaseException as exc:
        status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
        mlflow.end_run(status)
        end_parent(uri, parent_run_id, status)
        raise
    mlflow.end_run("FINISHED")
