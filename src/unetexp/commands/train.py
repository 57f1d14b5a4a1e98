"""The Hydra app behind `python -m unetexp` and `unetexp`: compose, validate, train, log."""

from __future__ import annotations

import logging
import os
import sys

from hydra.errors import CompactHydraException
from omegaconf import DictConfig

from unetexp.commands.base import sigterm_as_interrupt
from unetexp.errors import UnetexpError, exit_with_error

log = logging.getLogger(__name__)


class JobFailed(CompactHydraException):
    """A job's user error that could not be recorded on its parent run: Hydra records the job
    FAILED, lets the others finish and prints this message; `main` exits 2."""


def _job_context():
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from unetexp.experiment import JobContext
    from unetexp.tracking.parent import PARENT_ENV

    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return JobContext(overrides=list(hydra_cfg.overrides.task))
    from unetexp.tuning.trial import TrialLink

    return JobContext(
        overrides=list(hydra_cfg.overrides.task),
        job_num=hydra_cfg.job.num,
        parent_run_id=os.environ.get(PARENT_ENV),
        trial=TrialLink.from_env(),  # a job of hydra/sweeper=search
    )


def _runs_in_process() -> bool:
    """Whether the job runs in the process that started it: a single run, or a multirun with
    Hydra's basic launcher (then a user error ends the whole command at once)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra_cfg = HydraConfig.get()
    return hydra_cfg.mode != RunMode.MULTIRUN or str(
        hydra_cfg.launcher.get("_target_", "")
    ).endswith(".BasicLauncher")


def task(cfg: DictConfig) -> None:
    """One Hydra job."""
    from unetexp.experiment import run_experiment
    from unetexp.tracking import parent
    from unetexp.tuning.trial import PRUNED_TAG

    job = _job_context()
    sigterm_as_interrupt()
    try:
        with parent.ended_on_error(cfg.tracking.uri, job.parent_run_id):
            result = run_experiment(cfg, job)
            if job.trial and PRUNED_TAG not in result:
                job.trial.finish(cfg.tracking.uri, result["run_id"])
    except UnetexpError as exc:
        if _runs_in_process():
            exit_with_error(exc)
        # jobs in other processes (joblib, Ray): the others go on; the error is kept on the
        # parent run, and the sweep's end reports it in one line (hydra_callback.py)
        log.error("%serror: %s", job.label, exc)
        if not parent.note_failure(cfg.tracking.uri, job.parent_run_id, job.job_num, str(exc)):
            raise JobFailed(f"unetexp: error: {job.label}{exc}") from None
    except KeyboardInterrupt:
        print("unetexp: interrupted, run marked KILLED", file=sys.stderr)
        raise SystemExit(130) from None


def main() -> None:
    """Start the Hydra app with the project's conf/, whatever the working directory."""
    import hydra

    from unetexp.config.jobs import check_command_line
    from unetexp.config.paths import conf_dir
    from unetexp.config.schema import register_configs

    try:
        config_path = str(conf_dir())
        jobs = check_command_line(sys.argv[1:])  # every job of a sweep, before the first trains
    except UnetexpError as exc:
        exit_with_error(exc)
    register_configs()
    from unetexp.tracking.hydra_callback import close_open_parents, expect_jobs

    expect_jobs(jobs)  # the parent run's n_jobs tag (unetexp status)
    try:
        hydra.main(version_base="1.3", config_path=config_path, config_name="config")(task)()
    except KeyboardInterrupt:  # in the launching process (jobs in other processes)
        close_open_parents("KILLED")
        print("unetexp: interrupted, runs marked KILLED", file=sys.stderr)
        raise SystemExit(130) from None
    except SystemExit as exc:  # Hydra ends a failed multirun with 1; a user error is 2
        close_open_parents("FAILED")
        if exc.code == 1 and isinstance(exc.__context__, JobFailed):
            raise SystemExit(2) from None
        raise
