"""The MLflow run of one training job: it always ends, and logs under the names the README lists."""

from __future__ import annotations

import functools
import logging
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from unetexp.config.paths import project_root
from unetexp.errors import StoreError, one_line
from unetexp.host import process_tags
from unetexp.tracking import heartbeat
from unetexp.tracking.claim import CLAIM_TAG, claim
from unetexp.tracking.parent import ended_on_error
from unetexp.tracking.store import resolve_uri
from unetexp.training.checkpoint_files import saved_epoch

log = logging.getLogger(__name__)


@functools.cache
def git_commit() -> str | None:
    """HEAD of the project's checkout, when it is one (asked once per process)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(project_root()), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


class JobRun:
    """The MLflow run of one training job, logging under the names the README lists."""

    def __init__(self, mlflow, run_id: str, reused: bool = False, resumed: bool = False):
        self._mlflow, self.run_id, self.reused, self.resumed = mlflow, run_id, reused, resumed
        self.status = "FINISHED"  # how the run ends; a pruned trial's is KILLED (`stop`)

    def stop(self, tags: dict[str, str], metrics: dict[str, float]) -> None:
        """End the run KILLED, not FAILED, with `tags` saying why (a search's pruner) and the
        `metrics` known before it stopped (`n_params`): no checkpoint is kept, so nothing
        resumes it, and a later job of its config trains anew."""
        self._mlflow.set_tags(tags)
        self._mlflow.log_metrics(metrics)
        self.status = "KILLED"

    def logged_epochs(self) -> set[int]:
        """The epochs (steps, from 1) whose metrics the run already has: a resumed run's."""
        history = self._mlflow.MlflowClient().get_metric_history(self.run_id, "train_loss")
        return {m.step for m in history}

    def client(self):
        return self._mlflow.MlflowClient()

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        self._mlflow.log_metrics(metrics, step=epoch)

    def set_tags(self, tags: dict[str, str]) -> None:
        self._mlflow.set_tags(tags)

    def log_result(
        self, metrics: dict[str, float], artifacts: dict[str, str | dict | Path]
    ) -> None:
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
def job_run(
    uri: str | None,
    experiment: str,
    run_name: str,
    tags: dict[str, str],
    params: dict,
    parent_run_id: str | None = None,
    force: bool = False,
    label: str = "",
    checkpoints: Path | None = None,
    heartbeat_s: float = heartbeat.EVERY_S,
    stale_after_s: float = heartbeat.STALE_AFTER_S,
) -> Iterator[JobRun]:
    """One run that always ends: FINISHED, FAILED on an error, KILLED on Ctrl-C; and a failed
    job closes its parent too (Hydra calls no multirun-end callback after a failure).
    With a `config_hash` tag and not `force`, a FINISHED run of that config on the same data
    (`data_sha256` tag) is yielded instead (`reused`), once any live process training it has
    finished (`claim`). With `checkpoints` (the folder of the jobs' training states), a KILLED
    run of this config whose state is kept there is reopened instead (`resumed`): RUNNING
    again, on this host and pid, its `resumes` tag counting."""
    import mlflow
    from mlflow.exceptions import MlflowException

    def start(experiment_id: str) -> str:
        try:
            run = mlflow.start_run(
                experiment_id=experiment_id,
                run_name=run_name,
                # alive from its first moment, for a claimant on another host (`claim`)
                tags={**tags, **process_tags(), heartbeat.TAG: f"{time.time():.0f}"},
                parent_run_id=parent_run_id,
            )
        except (OSError, MlflowException) as exc:  # a full disk, a store that turned read-only
            raise StoreError(
                f"cannot start a run in the MLflow store {resolve_uri(uri)} ({one_line(exc)[:500]})"
            ) from None
        return run.info.run_id

    def withdraw(run_id: str) -> None:
        """A claim lost to another claimant's run (server stores): this run goes away."""
        mlflow.end_run("KILLED")
        mlflow.MlflowClient().delete_run(run_id)

    reopened: list[str] = []

    def resume(run_id: str) -> None:
        # this process's host, pid and heartbeat first: from the moment the run is RUNNING
        # again, a claimant elsewhere sees a live owner, never the killed one's (`claim`)
        alive_now = {**process_tags(), heartbeat.TAG: f"{time.time():.0f}", CLAIM_TAG: "won"}
        mlflow_client = mlflow.MlflowClient()
        for key, value in alive_now.items():
            mlflow_client.set_tag(run_id, key, value)
        run = mlflow.start_run(run_id=run_id)  # a KILLED run is RUNNING again
        mlflow.set_tag("resumes", str(int(run.data.tags.get("resumes", "0")) + 1))
        reopened.append(run_id)
        log.info("%sresuming KILLED run %s from its checkpoint", label, run_id)

    def can_resume(run_id: str) -> bool:
        return checkpoints is not None and saved_epoch(checkpoints / run_id) > 0

    reused = claim(
        uri,
        experiment,
        tags.get("config_hash"),
        force,
        start,
        label,
        tags.get("data_sha256"),
        resume=(can_resume, resume) if checkpoints else None,
        stale_after_s=stale_after_s,
        withdraw=withdraw,
    )
    if reused:
        yield JobRun(mlflow, reused, reused=True)
        return
    active = mlflow.active_run()
    assert active is not None  # claim() returned None only after start() or resume() began it
    run_id = active.info.run_id
    with ended_on_error(uri, parent_run_id), heartbeat.Heartbeat(uri, run_id, heartbeat_s):
        try:
            if not reopened:  # a resumed run has them (how to run may differ: threads)
                mlflow.log_params(params)
            job = JobRun(mlflow, run_id, resumed=bool(reopened))
            yield job
        except BaseException as exc:
            _end(mlflow, "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
            if isinstance(exc, (OSError, MlflowException)):  # the store or its artifact folder
                raise StoreError(
                    f"run {run_id} FAILED: cannot write to the MLflow store or its "
                    f"artifacts ({one_line(exc)[:500]})"
                ) from None
            raise
    mlflow.end_run(job.status)


def _end(mlflow, status: str) -> None:
    """End the active run; a store that is gone cannot record it (nothing is left RUNNING)."""
    try:
        mlflow.end_run(status)
    except Exception:
        pass
