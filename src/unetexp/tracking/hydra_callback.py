"""Hydra callback: a multirun is ONE MLflow parent run, its jobs nested children."""

from __future__ import annotations

import logging

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, open_dict, read_write

from unetexp.errors import UnetexpError, exit_with_error, first_line
from unetexp.tracking import parent

log = logging.getLogger(__name__)


# parent runs of the multiruns of this process that have not reached their end: run id -> uri
OPEN_PARENTS: dict[str, str | None] = {}
# the jobs the command line makes (config.jobs.check_command_line counts them): n_jobs on the parent
_EXPECTED: list[int] = []


def expect_jobs(count: int) -> None:
    """How many jobs this process's multirun has (its parent's `n_jobs` tag)."""
    _EXPECTED[:] = [count] if count else []


def close_open_parents(status: str) -> None:
    """End the parents of multiruns stopped before their end by something no job saw: a
    launcher's error (Ray cannot start, a worker pool breaks), Ctrl-C in the launching process;
    and their children still RUNNING, whose workers stopped with them."""
    while OPEN_PARENTS:
        run_id, uri = OPEN_PARENTS.popitem()
        try:
            parent.end_running_children(uri, run_id, status)
            parent.end_parent(uri, run_id, status)
        except Exception:  # the store is gone too: the next start closes them (dead processes)
            log.warning("could not close parent run %s", run_id)


def summarise(uri: str | None, experiment: str, run_id: str) -> None:
    """The sweep's summary on its parent run (`results.summary`); a summary that cannot be
    written is a warning: the sweep's runs are all there."""
    from unetexp.results.summary import sweep_summary

    try:
        parent.log_summary(uri, run_id, *sweep_summary(uri, experiment, run_id))
    except Exception as exc:
        log.warning(
            "could not write the sweep's summary on parent run %s (%s)", run_id, first_line(exc)
        )


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
        try:
            run_id = parent.start_sweep(
                config.tracking.uri,
                config.tracking.experiment,
                f"{sweep or 'sweep'} {' '.join(overrides)}",
                sweep,
                overrides,
                sweep_dir=str(config.hydra.sweep.dir),
                **({"n_jobs": str(_EXPECTED[0])} if _EXPECTED else {}),
            )
        except UnetexpError as exc:
            exit_with_error(exc)
        self.run_id = run_id
        OPEN_PARENTS[run_id] = config.tracking.uri
        launcher = str(config.hydra.launcher.get("_target_", ""))
        if not launcher.endswith(".BasicLauncher") and not config.train.intra_op_threads:
            log.warning(
                "parallel jobs with train.intra_op_threads=0 each use every core: set "
                "it so that jobs x threads <= cores (docs/scaling.md)"
            )
        with read_write(config.hydra), open_dict(config.hydra):
            config.hydra.overrides.hydra.append(
                f"++hydra.job.env_set.{parent.PARENT_ENV}='{run_id}'"
            )

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        run_id, self.run_id = self.run_id, None
        if not run_id:
            return
        OPEN_PARENTS.pop(run_id, None)
        failures = parent.sweep_failures(config.tracking.uri, run_id)
        if failures:  # user errors of jobs in other processes (joblib, Ray): the parent is FAILED
            n = len(failures)
            exit_with_error(
                UnetexpError(
                    f"{n} job{'s' if n > 1 else ''} failed (parent run "
                    f"{run_id} FAILED): {'; '.join(failures)}"
                )
            )
        trained, reused = parent.sweep_counts(config.tracking.uri, run_id)
        log.info(
            "sweep done: %d trained, %d skipped (already FINISHED); parent run %s",
            trained,
            reused,
            run_id,
        )
        summarise(config.tracking.uri, config.tracking.experiment, run_id)
        parent.end_parent(config.tracking.uri, run_id, "FINISHED")
