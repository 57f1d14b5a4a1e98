"""Hydra callback: a multirun is ONE MLflow parent run, its jobs nested children."""
from __future__ import annotations

import logging
import os
from datetime import datetime, timezone

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from unetexp import tracking
from unetexp.errors import UnetexpError, exit_with_error

log = logging.getLogger(__name__)


class MlflowSweepCallback(Callback):
    """Opens the parent run before the first job and closes it after the last one."""

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
        os.environ[tracking.PARENT_ENV] = run_id

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        run_id = os.environ.pop(tracking.PARENT_ENV, None)
        if run_id:
            trained, reused = tracking.sweep_counts(config.tracking.uri, run_id)
            log.info("sweep done: %d trained, %d skipped (already FINISHED); parent run %s",
                     trained, reused, run_id)
        tracking.end_parent(config.tracking.uri, run_id, "FINISHED")
