"""What unetexp's Hydra sweepers share (decide, search): the configured launcher, each job's
config composed as the launcher will compose it, the parent run the Hydra callback opened,
and batches of jobs launched and checked for failures in other processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from unetexp.errors import ConfigError, SweepStopped, UnetexpError, exit_with_error, first_line


class LaunchingSweeper(Sweeper):
    """A sweeper that launches its own batches (`_launch`) from `_sweep`; a user error ends it
    in one line, jobs failed in other processes end it for the callback to report."""

    name = "sweeper"  # hydra/sweeper=NAME, in its errors

    def __init__(self) -> None:
        super().__init__()
        self.hydra_context: HydraContext | None = None
        self.config: DictConfig | None = None
        self.launcher: Launcher | None = None
        self.job_idx = 0

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        from hydra.core.plugins import Plugins

        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> Any:
        try:
            return self._sweep(arguments)
        except UnetexpError as exc:
            exit_with_error(exc)
        except SweepStopped:
            return None

    def _sweep(self, arguments: list[str]) -> Any:
        raise NotImplementedError

    def _compose(self, overrides: list[str]) -> DictConfig:
        """A job's config (its hydra node included), as the launcher will compose it."""
        assert self.hydra_context is not None and self.config is not None  # set by setup()
        try:
            return self.hydra_context.config_loader.load_sweep_config(
                master_config=self.config, sweep_overrides=list(overrides)
            )
        except Exception as exc:  # Hydra's and OmegaConf's composition errors: one line
            raise ConfigError(f"cannot compose {' '.join(overrides)}: {first_line(exc)}") from None

    def _parent_run_id(self, job_config: DictConfig) -> str:
        from unetexp.tracking.parent import PARENT_ENV

        run_id = job_config.hydra.job.env_set.get(PARENT_ENV)
        if not run_id:
            raise ConfigError(
                f"hydra/sweeper={self.name} keeps its jobs under the sweep's parent run: keep "
                f"the unetexp callback (hydra.callbacks.mlflow)"
            )
        return str(run_id)

    def _save_multirun(self) -> None:
        """The sweep's config in its folder, as Hydra's basic sweeper writes it."""
        assert self.config is not None  # Hydra calls setup() before sweep()
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")

    def _launch(self, batch: list[list[str]], uri: str | None, parent_run_id: str) -> None:
        """One batch through the launcher; a job that raised re-raises here (as with the basic
        sweeper), and jobs of other processes that recorded errors stop the sweep."""
        from unetexp.tracking.parent import sweep_failures

        if not batch:
            return
        assert self.launcher is not None  # Hydra calls setup() before sweep()
        results = self.launcher.launch(batch, initial_job_idx=self.job_idx)
        self.job_idx += len(batch)
        for r in results:
            _ = r.return_value
        if sweep_failures(uri, parent_run_id):
            raise SweepStopped()
