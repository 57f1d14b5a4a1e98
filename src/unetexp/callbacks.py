"""Hydra callback: a multirun is ONE MLflow parent run, its jobs nested children."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, open_dict, read_write

from unetexp import tracking
from unetexp.errors import UnetexpError, exit_with_error

log = logging.getLogger(__name__)


class MlflowSweepCallback(Callback):
    """Opens the parent run before the first job and closes it after the last one.

    Jobs learn the parent's id from $UNETEXP_PARENT_RUN_ID, which Hydra sets in every job
    through `hydra.job.env_set`: the callback adds that override to the multirun's Hydra
    overrides, from which every launcher (basic, joblib, Ray, on this machine or another)
    composes each job's config."""

    run_id: str | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        overrides = list(config.hydra.overrides.task)
        sweep = config.tracking.get("sweep")
        started = datetime.now(timezone.utc).astimezone()
        name = f"{sweep or 'sweep'} {' '.join(overrides)} @ {started:%Y-%m-%d %H:%M}"
        tags = {
            "role": "sweep",
            "sweep": sweep or "",
            "sweep_overrides": " ".join(overrides),
            "sweep_dir": str(config.hydra.sweep.dir),
            "started_at": started.isoformat(timespec="seconds"),
        }
        try:
            run_id = tracking.start_parent(config.tracking.uri, config.tracking.experiment,
                                           name[:250], tags)
        except UnetexpError as exc:
            exit_with_error(exc)
        self.run_id = run_id
        with read_write(config.hydra), open_dict(config.hydra):
            config.hydra.overrides.hydra.append(
                f"++hydra.job.env_set.{tracking.PARENT_ENV}='{run_id}'")

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        run_id, self.run_id = self.run_id, None
        if not run_id:
            return
        failures = tracking.sweep_failures(config.tracking.uri, run_id)
        if failures:  # user errors of jobs in other processes (joblib, Ray): the parent is FAILED
            n = len(failures)
            exit_with_error(UnetexpError(f"{n} job{'s' if n > 1 else ''} failed (parent run "
                                         f"{run_id} FAILED): {'; '.join(failures)}"))
        trained, reused = tracking.sweep_counts(config.tracking.uri, run_id)
        log.info("sweep done: %d trained, %d skipped (already FINISHED); parent run %s",
                 trained, reused, run_id)
        tracking.end_parent(config.tracking.uri, run_id, "FINISHED")
