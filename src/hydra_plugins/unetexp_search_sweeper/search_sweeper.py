"""`hydra/sweeper=search`: an Optuna search over any config key, its space written in Hydra's
override grammar (`hydra.sweeper.params`, or the command line: `train.lr='tag(log,
interval(1e-4,1e-2))'`), its trials launched in batches by whatever launcher is configured
(basic, joblib, Ray, Slurm), each an MLflow child of the multirun's parent run.

Jobs report each epoch's objective to the study (its storage is shared: `unetexp.tuning`),
whose pruner may stop them; a job tells the study its end, so the sweeper reads nothing from
the jobs' return values. The same command resumes a killed search: complete and pruned trials
count, the trials it left RUNNING are retried first, and FINISHED configs are reused."""

# no `from __future__ import annotations`: Hydra's plugin scan runs this module outside
# sys.modules, where dataclasses cannot resolve string annotations
import logging
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from unetexp.config.compose import task_config
from unetexp.config.sweeper_base import LaunchingSweeper
from unetexp.errors import ConfigError, SweepStopped, UnetexpError, first_line
from unetexp.tuning.trial import env_overrides

log = logging.getLogger(__name__)
TRIALS_CSV = "optuna_trials.csv"  # an artifact of the search's parent run


@dataclass
class PrunerConf:
    name: str = "median"  # median | halving | none
    startup_trials: int = 2  # median: complete trials before any is pruned
    warmup_epochs: int = (
        1  # median: the first epoch a trial can be pruned at; halving: min resource
    )
    reduction_factor: int = 3  # halving


@dataclass
class SearchSweeperConf:
    _target_: str = "hydra_plugins.unetexp_search_sweeper.search_sweeper.SearchSweeper"
    n_trials: int = 20  # complete + pruned trials the study should hold (a resume counts them)
    batch_size: int = 2  # trials launched at once (the launcher runs them, in parallel or not)
    objective: str = "val_dice"  # an epoch metric of the validation split, its last epoch's
    direction: str = "maximize"
    sampler: str = "tpe"  # tpe | random
    seed: int = 0  # the sampler's
    pruner: PrunerConf = field(default_factory=PrunerConf)
    study_name: str | None = None  # null: derived from the base config, space and objective
    storage: str | None = None  # null: sqlite optuna.db beside MLflow's SQLite store
    params: dict[str, str] | None = None  # the search space, in Hydra's override grammar


ConfigStore.instance().store(
    group="hydra/sweeper", name="search", node=SearchSweeperConf, provider="unetexp"
)


class SearchSweeper(LaunchingSweeper):
    name = "search"

    def __init__(
        self,
        n_trials: int,
        batch_size: int,
        objective: str,
        direction: str,
        sampler: str,
        seed: int,
        pruner: Any,
        study_name: str | None = None,
        storage: str | None = None,
        params: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.n_trials, self.batch_size = n_trials, batch_size
        self.objective, self.direction, self.sampler, self.seed = (
            objective,
            direction,
            sampler,
            seed,
        )
        node = OmegaConf.to_container(pruner) if isinstance(pruner, DictConfig) else pruner
        self.pruner: dict[str, Any] = dict(node)  # type: ignore[arg-type]  # a mapping
        self.study_name, self.storage, self.params = study_name, storage, params or {}

    def _sweep(self, arguments: list[str]) -> Any:
        from unetexp.config.hashing import config_hash
        from unetexp.tracking.store import client
        from unetexp.tuning import space as spaces
        from unetexp.tuning import study as studies

        self._check_settings()
        space, fixed = self._space(arguments)
        base = self._compose(fixed)
        cfg = task_config(base)
        self._check_base(cfg, space, fixed)
        parent_run_id = self._parent_run_id(base)
        identity = {
            "config_hash": config_hash(cfg),
            "fixed": fixed,
            "space": spaces.describe(space),
            "objective": self.objective,
            "direction": self.direction,
        }
        name = self.study_name or studies.study_name(identity)
        storage = self.storage or studies.default_storage(cfg.tracking.uri)
        study = studies.open_study(name, storage, identity, self.direction, self.sampler, self.seed)
        study.set_user_attr("pruner", self.pruner)  # the jobs build theirs from it
        retried = studies.retry_dead_trials(study)
        mlflow_client = client(cfg.tracking.uri)
        for key, value in {
            "kind": "optuna-search",
            "optuna_study": name,
            "optuna_storage": storage,
            "objective": f"{self.objective} (last epoch, {self.direction})",
            "pruner": self.pruner["name"],
        }.items():
            mlflow_client.set_tag(parent_run_id, key, value)
        log.info(
            "search %s: %d of %d trials done%s; storage %s",
            name,
            studies.done(study),
            self.n_trials,
            f", {retried} of a killed search retried first" if retried else "",
            storage,
        )
        self._save_multirun()
        while studies.done(study) < self.n_trials:
            count = min(self.batch_size, self.n_trials - studies.done(study))
            trials = [studies.ask(study, space) for _ in range(count)]
            numbers = [trial.number for trial in trials]
            try:
                self._launch(
                    [
                        fixed
                        + spaces.as_overrides(trial.params)
                        + env_overrides(storage, name, trial.number)
                        for trial in trials
                    ],
                    cfg.tracking.uri,
                    parent_run_id,
                )
            except (SweepStopped, UnetexpError):  # jobs' errors: their trials are failed now
                studies.fail_unfinished(study, numbers)
                raise
            failed = studies.fail_unfinished(study, numbers)
            if failed and len(failed) == len(numbers):
                raise UnetexpError(
                    f"search {name}: every trial of a batch ({', '.join(map(str, numbers))}) "
                    f"ended without telling the study: see their runs under parent "
                    f"{parent_run_id}"
                )
            for key, value in studies.best_tags(study).items():
                mlflow_client.set_tag(parent_run_id, key, value)
            # the study's trials, pruned and failed ones included, beside the runs they made
            table = studies.trials_table(study).to_csv(index=False)
            mlflow_client.log_text(parent_run_id, table, TRIALS_CSV)
        best = studies.best_tags(study)
        if best:
            log.info(
                "search %s: best trial %s, %s %s, %s",
                name,
                best["best_trial"],
                self.objective,
                best["best_value"],
                best["best_params"],
            )
        return study

    def _check_settings(self) -> None:
        from unetexp.tuning.study import check_settings

        if self.n_trials < 1 or self.batch_size < 1:
            raise ConfigError(
                f"hydra.sweeper.n_trials={self.n_trials} and batch_size={self.batch_size}: "
                f"both must be >= 1"
            )
        check_settings(self.pruner, self.sampler, self.objective, self.direction)

    def _space(self, arguments: list[str]) -> tuple[dict, list[str]]:
        from unetexp.tuning.space import split_space

        assert self.hydra_context is not None  # Hydra calls setup() before sweep()
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        lines = [f"{k}={v}" for k, v in self.params.items()] + list(arguments)
        try:
            overrides = parser.parse_overrides(lines)
        except Exception as exc:  # Hydra's grammar errors: one line
            raise ConfigError(f"hydra.sweeper.params: {first_line(exc)}") from None
        space, fixed = split_space(overrides)
        if not space:
            raise ConfigError(
                "hydra/sweeper=search has nothing to search: set hydra.sweeper.params (e.g. "
                "+search=final) or sweep a key, e.g. train.lr='tag(log,interval(1e-4,1e-2))'"
            )
        return space, fixed

    def _check_base(self, cfg: DictConfig, space: dict, fixed: list[str]) -> None:
        """The base config, and each searched key at its choices or its ends, validated now:
        a bad value stops the search before a trial trains."""
        from unetexp.config.validation import validate

        validate(cfg)
        if not cfg.data.val_fraction > 0:
            raise ConfigError(
                f"data.val_fraction={cfg.data.val_fraction!r} is invalid for a search: its "
                f"objective watches a validation split apart from test (e.g. 0.2)"
            )
        for key, dist in space.items():
            values = getattr(dist, "choices", None) or (dist.low, dist.high)
            for value in values:
                try:
                    validate(task_config(self._compose(fixed + [f"{key}={value}"])))
                except ConfigError as exc:
                    raise ConfigError(f"search space {key}={value}: {exc}") from None

    def _launch(self, batch: list[list[str]], uri, parent_run_id: str) -> None:
        from unetexp.tuning.trial import clear_env

        try:
            super()._launch(batch, uri, parent_run_id)
        finally:
            clear_env()
