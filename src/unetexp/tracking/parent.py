"""The parent run of a multirun (or of a search): its jobs are its nested children, and it
keeps what they report back (failures of jobs in other processes, reused runs)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from unetexp.errors import ConfigError
from unetexp.host import process_tags
from unetexp.tracking.store import client, connect, resolve_uri, sqlite_path

PARENT_ENV = "UNETEXP_PARENT_RUN_ID"  # set for the jobs of a multirun by the Hydra callback


def start_parent(uri: str | None, experiment: str, name: str, tags: dict[str, str]) -> str:
    """The parent run of a multirun; its jobs become its nested children."""
    import mlflow

    experiment_id = connect(uri, experiment)
    run = mlflow.MlflowClient().create_run(
        experiment_id, run_name=name, tags={**tags, **process_tags()}
    )
    return run.info.run_id


def start_sweep(
    uri: str | None,
    experiment: str,
    title: str,
    sweep: str | None,
    overrides: list[str],
    **tags: str,
) -> str:
    """A parent run named `TITLE @ date time`, tagged as a sweep (role, sweep, its overrides,
    start time) plus `tags`: what export and report look for."""
    started = datetime.now(timezone.utc).astimezone()
    return start_parent(
        uri,
        experiment,
        f"{title} @ {started:%Y-%m-%d %H:%M}"[:250],
        {
            "role": "sweep",
            "sweep": sweep or "",
            "sweep_overrides": " ".join(overrides),
            "started_at": started.isoformat(timespec="seconds"),
            **tags,
        },
    )


def end_parent(uri: str | None, run_id: str | None, status: str) -> None:
    """Close the parent unless it is already closed (a failed job closes it first)."""
    if not run_id:
        return
    mlflow_client = client(uri)
    if mlflow_client.get_run(run_id).info.status == "RUNNING":
        mlflow_client.set_terminated(run_id, status)


@contextmanager
def ended_on_error(uri: str | None, run_id: str | None) -> Iterator[None]:
    """An error inside the block ends the parent (KILLED on Ctrl-C or SIGTERM, else FAILED)
    and goes on: Hydra calls no multirun-end callback after a failure."""
    try:
        yield
    except BaseException as exc:
        try:
            end_parent(uri, run_id, "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
        except Exception:  # the store itself is gone: the error that ended the job is the news
            pass
        raise


def end_running_children(uri: str | None, parent_run_id: str, status: str) -> None:
    """End the child runs still RUNNING under a parent whose multirun stopped (their workers
    were stopped with it)."""
    mlflow_client = client(uri)
    experiment_id = mlflow_client.get_run(parent_run_id).info.experiment_id
    for run in mlflow_client.search_runs(
        [experiment_id],
        filter_string=(
            f"tags.mlflow.parentRunId = '{parent_run_id}' and attributes.status = 'RUNNING'"
        ),
        max_results=10000,
    ):
        mlflow_client.set_terminated(run.info.run_id, status)


def check_parent(uri: str | None, parent_run_id: str | None) -> None:
    """A job's parent run must be in the job's store. A job that a launcher runs on another
    machine finds no SQLite file there (or another one): it needs a tracking server."""
    db = sqlite_path(resolve_uri(uri))
    if not parent_run_id or db is None:
        return
    found = db.is_file()
    if found:
        try:
            client(uri).get_run(parent_run_id)
        except Exception:
            found = False
    if not found:
        raise ConfigError(
            f"tracking.uri={resolve_uri(uri)}: this job's parent run {parent_run_id} is not in "
            f"this store: the file was deleted or replaced during the sweep, or the job runs on "
            f"another machine, which cannot share a local SQLite file (start `mlflow server` and "
            f"set tracking.uri=http://HOST:PORT, docs/scaling.md)"
        )


def note_failure(
    uri: str | None, parent_run_id: str | None, job_num: int | None, message: str
) -> bool:
    """Record on the parent why job `job_num` failed (tag `error.<job>`); False when the parent
    is out of reach. The process that started the sweep reports these at its end."""
    if not parent_run_id:
        return False
    try:
        client(uri).set_tag(parent_run_id, f"error.{job_num}", message[:5000])
    except Exception:
        return False
    return True


def sweep_failures(uri: str | None, parent_run_id: str) -> list[str]:
    """The errors its jobs recorded on a parent run, by job number: `[#3] message`."""
    tags = client(uri).get_run(parent_run_id).data.tags
    errors = {
        key.split(".", 1)[1]: value for key, value in tags.items() if key.startswith("error.")
    }
    return [f"[#{num}] {errors[num]}" for num in sorted(errors, key=lambda n: (len(n), n))]


def note_reused(
    uri: str | None, parent_run_id: str | None, job_num: int | None, run_id: str
) -> None:
    """Record on the parent that job `job_num` reused `run_id`: exports of the sweep find it."""
    if parent_run_id:
        client(uri).set_tag(parent_run_id, f"reused.{job_num}", run_id)


def sweep_counts(uri: str | None, parent_run_id: str) -> tuple[int, int]:
    """(jobs trained, jobs skipped) of a sweep, for its closing line."""
    mlflow_client = client(uri)
    parent = mlflow_client.get_run(parent_run_id)
    children = mlflow_client.search_runs(
        [parent.info.experiment_id],
        filter_string=(f"tags.mlflow.parentRunId = '{parent_run_id}'"),
        max_results=10000,
    )
    return len(children), sum(key.startswith("reused.") for key in parent.data.tags)


def log_summary(
    uri: str | None,
    run_id: str,
    params: dict[str, str],
    metrics: dict[str, float],
    tags: dict[str, str],
    artifacts: dict[str, str],
) -> None:
    """Write a sweep's summary on its parent, next to the tags already there (in batches of
    100 params, MLflow's limit per request), and its text artifacts by file name."""
    import time

    from mlflow.entities import Metric, Param, RunTag

    mlflow_client, now = client(uri), int(time.time() * 1000)
    mlflow_client.log_batch(
        run_id,
        metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
        tags=[RunTag(k, v) for k, v in tags.items()],
    )
    items = list(params.items())
    for start in range(0, len(items), 100):
        mlflow_client.log_batch(run_id, params=[Param(k, v) for k, v in items[start : start + 100]])
    for name, text in artifacts.items():
        mlflow_client.log_text(run_id, text, name)
