"""The job's side of a search trial: report each epoch's objective to the Optuna study, stop
when its pruner says so, and tell the study the trial's end.

The search sweeper names the study and the trial through the job's environment
(`hydra.job.env_set`, as the parent run's id), which every launcher carries to the job's
process, on this machine or another: those are not config keys, so a trial's config hash is
the config's, and a FINISHED run of it is reused like any other."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from unetexp.errors import ConfigError

log = logging.getLogger(__name__)

STORAGE_ENV, STUDY_ENV, TRIAL_ENV = (
    "UNETEXP_OPTUNA_STORAGE",
    "UNETEXP_OPTUNA_STUDY",
    "UNETEXP_OPTUNA_TRIAL",
)
PRUNED_TAG = "pruned_at_epoch"


class Pruned(Exception):
    """The study's pruner stopped this trial after epoch `epoch` (from 1)."""

    def __init__(self, epoch: int):
        super().__init__(f"pruned at epoch {epoch}")
        self.epoch = epoch


def env_overrides(storage: str, study: str, number: int) -> list[str]:
    """The Hydra overrides that hand trial `number` to its job."""
    return [
        f"++hydra.job.env_set.{STORAGE_ENV}='{storage}'",
        f"++hydra.job.env_set.{STUDY_ENV}='{study}'",
        f"++hydra.job.env_set.{TRIAL_ENV}='{number}'",
    ]


def clear_env() -> None:
    """A job of the basic launcher sets these in the sweeper's own process: gone after a batch."""
    for name in (STORAGE_ENV, STUDY_ENV, TRIAL_ENV):
        os.environ.pop(name, None)


@dataclass
class TrialLink:
    storage: str
    study_name: str
    number: int
    _storage: Any = field(default=None, repr=False)
    _study: Any = field(default=None, repr=False)
    _trial: Any = field(default=None, repr=False)
    _reported: set[int] = field(default_factory=set, repr=False)

    @classmethod
    def from_env(cls) -> TrialLink | None:
        env = os.environ
        if not env.get(TRIAL_ENV):
            return None
        return cls(env[STORAGE_ENV], env[STUDY_ENV], int(env[TRIAL_ENV]))

    def tags(self) -> dict[str, str]:
        return {"optuna_study": self.study_name, "optuna_trial": str(self.number)}

    @property
    def objective(self) -> str:
        return str(self.study().user_attrs["objective"])

    def study(self):
        """The study, with the pruner its sweeper stored in it."""
        if self._study is None:
            import optuna

            from unetexp.tuning.study import make_pruner

            optuna.logging.set_verbosity(optuna.logging.WARNING)
            self._storage = storage = optuna.storages.get_storage(self.storage)  # one per job
            # load_study builds a default sampler, which warns nothing; the pruner is the sweep's
            spec = storage.get_study_user_attrs(storage.get_study_id_from_name(self.study_name))
            self._study = optuna.load_study(
                study_name=self.study_name,
                storage=storage,
                pruner=make_pruner(spec.get("pruner", {})),
            )
        return self._study

    def trial(self):
        """The RUNNING trial: `optuna.trial.Trial` on its id (Optuna's ask-and-tell objects are
        built the same way; the id comes from the storage's public lookup)."""
        if self._trial is None:
            import optuna

            study, storage = self.study(), self._storage
            study_id = storage.get_study_id_from_name(self.study_name)
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, self.number)
            self._trial = optuna.trial.Trial(study, trial_id)
            # a resumed job replays its checkpoint's epochs: each is reported once
            self._reported = set(storage.get_trial(trial_id).intermediate_values)
        return self._trial

    def reporting(
        self, log_epoch: Callable[[int, dict], None], epochs: int
    ) -> Callable[[int, dict], None]:
        """`log_epoch` (MLflow), then the epoch's objective to the study; raises `Pruned` when
        the pruner stops the trial (its epochs are in MLflow by then), never after the last of
        its `epochs`: stopping then saves nothing and would hide a complete result."""
        objective = self.objective

        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            log_epoch(epoch, metrics)
            if objective not in metrics:
                return
            trial = self.trial()
            if epoch not in self._reported:
                trial.report(float(metrics[objective]), epoch)
                self._reported.add(epoch)
            if epoch < epochs and trial.should_prune():
                raise Pruned(epoch)

        return on_epoch

    def replay(self, mlflow_client, run_id: str) -> None:
        """A resumed run's epochs before its checkpoint, reported to this trial (a retry of
        a killed search's trial), so that its pruner sees every epoch."""
        trial = self.trial()
        for metric in mlflow_client.get_metric_history(run_id, self.objective):
            if metric.step not in self._reported:
                trial.report(float(metric.value), metric.step)
                self._reported.add(metric.step)

    def pruned(self, run_id: str) -> None:
        import optuna

        self.trial().set_user_attr("run_id", run_id)
        self.study().tell(self.number, state=optuna.trial.TrialState.PRUNED)

    def finish(self, uri: str | None, run_id: str) -> float:
        """Tell the study the run's objective, from MLflow: COMPLETE. Its value is the epoch's
        whose weights the run kept (`best_epoch`: early stopping restores them), else the
        last epoch's."""
        from unetexp.tracking.store import client

        value = objective_value(client(uri), run_id, self.objective)
        trial = self.trial()
        trial.set_user_attr("run_id", run_id)
        if value is None:
            import optuna

            self.study().tell(self.number, state=optuna.trial.TrialState.FAIL)
            raise ConfigError(f"run {run_id} has no {self.objective} metric for the search")
        self.study().tell(self.number, float(value))
        return float(value)


def objective_value(mlflow_client, run_id: str, objective: str) -> float | None:
    """`objective` at the run's `best_epoch` (the weights it kept), else its last value."""
    metrics = mlflow_client.get_run(run_id).data.metrics
    best = metrics.get("best_epoch")
    if best:
        at_best = [
            m.value
            for m in mlflow_client.get_metric_history(run_id, objective)
            if m.step == int(best)
        ]
        if at_best:
            return float(at_best[-1])
    value = metrics.get(objective)
    return None if value is None else float(value)
