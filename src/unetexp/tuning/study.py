"""The Optuna study of a search: where it lives, what it is about, its sampler and pruner,
and what a resumed search does with the trials a killed one left RUNNING.

The study sits in Optuna storage beside MLflow's (`optuna.db` next to a SQLite store) or in
the RDB the user names (the tracking server's PostgreSQL), so jobs in other processes or on
other machines report to it and the same command resumes it. Imports Optuna."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any

from unetexp.config.paths import project_root
from unetexp.errors import ConfigError, UnetexpError, first_line
from unetexp.host import alive, process_tags
from unetexp.tracking.store import resolve_uri, sqlite_path

log = logging.getLogger(__name__)

OPEN_ATTEMPTS = 5
PRUNERS = ("none", "median", "halving")
SAMPLERS = ("tpe", "random")


def default_storage(uri: str | None) -> str:
    """Optuna's SQLite file beside MLflow's, else in the project's mlruns/."""
    db = sqlite_path(resolve_uri(uri))
    folder = db.parent if db else project_root() / "mlruns"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder.resolve() / 'optuna.db'}"


def study_name(identity: dict) -> str:
    """A name derived from what the study is about: the same command finds the same study."""
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    return f"search-{digest[:10]}"


def make_pruner(spec: dict[str, Any]):
    """Optuna's pruner from the sweeper's `pruner` node (stored in the study, so that every
    job builds the same one): median, successive halving, or none."""
    import optuna

    name = spec.get("name", "none")
    if name == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=int(spec["startup_trials"]),
            n_warmup_steps=int(spec["warmup_epochs"]),
        )
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=max(1, int(spec["warmup_epochs"])),
            reduction_factor=int(spec["reduction_factor"]),
        )
    return optuna.pruners.NopPruner()


def check_settings(pruner: dict, sampler: str, objective: str, direction: str) -> None:
    if pruner.get("name") not in PRUNERS:
        raise ConfigError(
            f"hydra.sweeper.pruner.name={pruner.get('name')!r} is invalid: one of "
            f"{', '.join(PRUNERS)}"
        )
    if sampler not in SAMPLERS:
        raise ConfigError(
            f"hydra.sweeper.sampler={sampler!r} is invalid: one of {', '.join(SAMPLERS)}"
        )
    if not objective.startswith("val_"):
        raise ConfigError(
            f"hydra.sweeper.objective={objective!r} is invalid: a search watches the "
            f"validation split (val_dice, val_accuracy, val_iou, val_loss); the test split is "
            f"scored once, at the end"
        )
    if direction not in ("maximize", "minimize"):
        raise ConfigError(f"hydra.sweeper.direction={direction!r} is invalid: maximize or minimize")


def open_study(name: str, storage: str, identity: dict, direction: str, sampler: str, seed: int):
    """The study `name` in `storage`, created or resumed; one of another search under that
    name is refused. Its sampler is seeded by its history, so that a resumed search does not
    replay the first process's draws."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for attempt in range(OPEN_ATTEMPTS):
        try:
            study = optuna.create_study(
                study_name=name,
                storage=storage,
                direction=direction,  # type: ignore[arg-type]  # checked by check_settings
                load_if_exists=True,
            )
            break
        except Exception as exc:
            # two processes creating one new storage, or one study, at once: one of them
            # loses a unique constraint (SQLite, PostgreSQL) or finds a table just made
            raced = any(m in str(exc).lower() for m in ("unique constraint", "already exists"))
            if raced and attempt + 1 < OPEN_ATTEMPTS:
                time.sleep(0.5 * (attempt + 1))
                continue
            raise ConfigError(
                f"hydra.sweeper.storage={storage}: cannot open the Optuna storage "
                f"({first_line(exc)})"
            ) from None
    known = study.user_attrs.get("identity")
    if known is None:
        for key, value in identity.items():
            study.set_user_attr(key, value)
        study.set_user_attr("identity", identity)
    elif known != identity:
        raise ConfigError(
            f"hydra.sweeper.study_name={name}: that study searches another config, space or "
            f"objective (its overrides: {' '.join(known.get('fixed', []))}); choose another name"
        )
    seed_now = seed + len(study.trials)
    study.sampler = (
        optuna.samplers.TPESampler(seed=seed_now, constant_liar=True)
        if sampler == "tpe"
        else optuna.samplers.RandomSampler(seed=seed_now)
    )
    return study


def retry_dead_trials(study) -> int:
    """Fail the RUNNING trials whose sweeper process is dead (a killed search) and queue their
    values first: a resumed search trains exactly what was lost (its jobs resume their
    runs from their checkpoints, `tracking.job`)."""
    import optuna

    retried = 0
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if not alive(trial.user_attrs.get("host"), trial.user_attrs.get("pid")):
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
            if trial.params:
                study.enqueue_trial(trial.params)
            retried += 1
    return retried


def ask(study, space: dict) -> Any:
    """A new trial (a queued one first), marked with this sweeper's host and pid."""
    trial = study.ask(space)
    for key, value in process_tags().items():
        trial.set_user_attr(key, value)
    return trial


def done(study) -> int:
    """Trials that count towards `n_trials`: complete or pruned (failed ones are retried)."""
    import optuna

    states = optuna.trial.TrialState
    return len(study.get_trials(deepcopy=False, states=(states.COMPLETE, states.PRUNED)))


def fail_unfinished(study, numbers: list[int]) -> list[int]:
    """Trials of a batch still RUNNING once it returned (their job failed or died): FAIL."""
    import optuna

    failed = []
    for trial in study.get_trials(deepcopy=False):
        if trial.number in numbers and trial.state == optuna.trial.TrialState.RUNNING:
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
            failed.append(trial.number)
    return failed


def best_tags(study) -> dict[str, str]:
    """best_trial, best_run_id, best_value and best_params (JSON) for the parent run."""
    try:
        best = study.best_trial
    except ValueError:  # no complete trial yet
        return {}
    return {
        "best_trial": str(best.number),
        "best_run_id": str(best.user_attrs.get("run_id", "")),
        "best_value": repr(best.value),
        "best_params": json.dumps(best.params, sort_keys=True),
    }


def trials_table(study):
    """The study's trials as a pandas table: number, state, value, each searched key, the
    epoch a pruned trial stopped at, and its MLflow run."""
    import pandas as pd

    rows = []
    for trial in study.get_trials(deepcopy=False):
        steps = sorted(trial.intermediate_values)
        rows.append(
            {
                "trial": trial.number,
                "state": trial.state.name,
                "value": trial.value,
                **{f"param.{k}": v for k, v in trial.params.items()},
                "epochs_reported": len(steps),
                "pruned_at_epoch": steps[-1] if trial.state.name == "PRUNED" and steps else None,
                "run_id": trial.user_attrs.get("run_id"),
            }
        )
    if not rows:
        raise UnetexpError(f"study {study.study_name}: no trial yet")
    return pd.DataFrame(rows)
