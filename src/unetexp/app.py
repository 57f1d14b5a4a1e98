"""The Hydra app behind `python -m unetexp` and `unetexp`: compose, validate, train, log."""
from __future__ import annotations

import os
import signal
import sys

from omegaconf import DictConfig

from unetexp.errors import UnetexpError, exit_with_error


def _job_context():
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from unetexp.runner import JobContext
    from unetexp.tracking import PARENT_ENV

    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return JobContext(overrides=list(hydra_cfg.overrides.task))
    return JobContext(overrides=list(hydra_cfg.overrides.task), job_num=hydra_cfg.job.num,
                      parent_run_id=os.environ.get(PARENT_ENV))


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # `kill` ends the run as KILLED, like Ctrl-C


def task(cfg: DictConfig) -> None:
    """One Hydra job."""
    from unetexp import tracking
    from unetexp.runner import run_experiment

    job = _job_context()
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        run_experiment(cfg, job)
    except UnetexpError as exc:
        tracking.end_parent(cfg.tracking.uri, job.parent_run_id, "FAILED")
        exit_with_error(exc)
    except KeyboardInterrupt:
        tracking.end_parent(cfg.tracking.uri, job.parent_run_id, "KILLED")
        print("unetexp: interrupted, run marked KILLED", file=sys.stderr)
        raise SystemExit(130) from None
    except BaseException:
        tracking.end_parent(cfg.tracking.uri, job.parent_run_id, "FAILED")
        raise


def main() -> None:
    """Start the Hydra app with the project's conf/, whatever the working directory."""
    import hydra

    from unetexp.config import register_configs
    from unetexp.paths import conf_dir

    try:
        config_path = str(conf_dir())
    except UnetexpError as exc:
        exit_with_error(exc)
    register_configs()
    hydra.main(version_base="1.3", config_path=config_path, config_name="config")(task)()
