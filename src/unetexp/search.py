"""Optuna search over bce_dice's `loss.alpha` and the learning rate (`unetexp search`).

Each trial is one training through `experiment.run_experiment`, an MLflow child run of one
parent run per study; the objective is the validation Dice of the last epoch on a validation
split carved from train (`data.val_fraction`, 0.2 unless set), never the test split. The Optuna
study lives in its own storage next to MLflow's (`optuna.db`), so the same command resumes an
interrupted search: trials of dead processes are failed and retried first, FINISHED runs are
reused, and the parent run (kept in the study) is reopened. Optuna and TensorFlow load only
when a search runs.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging

from unetexp.config.compose import compose
from unetexp.config.hashing import config_hash
from unetexp.config.paths import project_root
from unetexp.config.validation import validate
from unetexp.errors import ConfigError, UnetexpError, first_line
from unetexp.host import alive, process_tags
from unetexp.tracking import parent as parents
from unetexp.tracking.store import connect, resolve_uri, sqlite_path

log = logging.getLogger("unetexp.search")

# what a search sets unless the user's overrides do
DEFAULTS = {"loss": "loss=bce_dice", "data.val_fraction": "data.val_fraction=0.2"}
OBJECTIVE = "val_dice"  # last epoch's, on the validation split


def base_config(overrides: list[str]):
    """The base config of the search: the app's config with the search's defaults."""
    keys = {o.lstrip("+~").split("=", 1)[0] for o in overrides}
    full = [line for key, line in DEFAULTS.items() if key not in keys] + list(overrides)
    try:
        return compose(full), full
    except UnetexpError:
        raise
    except Exception as exc:  # Hydra's and OmegaConf's composition errors: one line
        raise ConfigError(f"cannot compose the search's config: {first_line(exc)}") from None


def check(cfg, args) -> None:
    validate(cfg)
    if cfg.loss.name != "bce_dice":
        raise ConfigError(
            f"loss.name={cfg.loss.name!r} is invalid for a search: it tunes "
            f"loss.alpha of bce_dice (drop the loss override)"
        )
    if not cfg.data.val_fraction > 0:
        raise ConfigError(
            f"data.val_fraction={cfg.data.val_fraction!r} is invalid for a search: "
            f"the objective needs a validation split apart from test (e.g. 0.2)"
        )
    if args.trials < 1:
        raise ConfigError(f"--trials={args.trials} is invalid: must be >= 1")
    low, high = args.alpha
    if not 0.0 <= low < high <= 1.0:
        raise ConfigError(f"--alpha {low:g} {high:g} is invalid: need 0 <= LOW < HIGH <= 1")
    low, high = args.lr
    if not 0.0 < low < high:
        raise ConfigError(f"--lr {low:g} {high:g} is invalid: need 0 < LOW < HIGH")


def default_storage(uri: str | None) -> str:
    """Optuna's SQLite file beside MLflow's, else in the project's mlruns/."""
    db = sqlite_path(resolve_uri(uri))
    folder = db.parent if db else project_root() / "mlruns"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder.resolve() / 'optuna.db'}"


def study_key(cfg, args) -> dict:
    """What a study is about: its base config (hash), experiment and search space."""
    return {
        "config_hash": config_hash(cfg),
        "experiment": cfg.tracking.experiment,
        "space": {"loss.alpha": list(args.alpha), "train.lr": list(args.lr)},
    }


def _retry_dead_trials(study, optuna) -> int:
    """Fail the RUNNING trials of dead processes of this host (a killed search) and queue
    their parameters first, so that a resumed search retrains exactly what was lost."""
    retried = 0
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if not alive(trial.user_attrs.get("host"), trial.user_attrs.get("pid")):
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
            if trial.params:
                study.enqueue_trial(trial.params)
            retried += 1
    return retried


def _parent(
    client, cfg, study, experiment_id: str, name: str, storage: str, overrides: list[str]
) -> str:
    """The study's parent run: reopened when it exists in this experiment, else created."""
    run_id = study.user_attrs.get("mlflow_parent_run_id")
    if run_id:
        try:
            run = client.get_run(run_id)
        except Exception:
            run = None
        if run is not None and run.info.experiment_id == experiment_id:
            if run.info.status != "RUNNING":
                client.update_run(run_id, status="RUNNING")
            for key, value in process_tags().items():
                client.set_tag(run_id, key, value)
            return run_id
    run_id = parents.start_sweep(
        cfg.tracking.uri,
        cfg.tracking.experiment,
        f"search {name}",
        cfg.tracking.sweep,
        overrides,
        kind="optuna-search",
        optuna_study=name,
        optuna_storage=storage,
        objective=f"{OBJECTIVE} (last epoch, maximised)",
    )
    study.set_user_attr("mlflow_parent_run_id", run_id)
    return run_id


def tag_best(client, parent_run_id: str, study) -> None:
    """best_trial, best_run_id, best_value and best_params (JSON) on the parent run."""
    complete = [t for t in study.trials if t.value is not None]
    if not complete:
        return
    best = study.best_trial
    client.set_tag(parent_run_id, "best_trial", str(best.number))
    client.set_tag(parent_run_id, "best_run_id", best.user_attrs.get("run_id", ""))
    client.set_tag(parent_run_id, "best_value", repr(best.value))
    client.set_tag(parent_run_id, "best_params", json.dumps(best.params, sort_keys=True))
    client.log_metric(parent_run_id, f"best_{OBJECTIVE}", best.value, step=len(complete))


def _no_user_error(record: logging.LogRecord) -> bool:
    """Optuna's "trial failed" warning, with its traceback, is dropped for a user error: the
    search ends with that error in one line."""
    return not (record.exc_info and isinstance(record.exc_info[1], UnetexpError))


def _open_study(
    optuna, name: str, storage: str, key: dict, overrides: list[str], sampler_seed: int
):
    """The Optuna study `name` in `storage`, created or resumed; a study of another config or
    search space under that name is refused."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for handler in logging.getLogger("optuna").handlers:
        handler.addFilter(_no_user_error)
    try:
        study = optuna.create_study(
            study_name=name, storage=storage, direction="maximize", load_if_exists=True
        )
    except Exception as exc:
        raise ConfigError(
            f"--storage={storage}: cannot open the Optuna storage ({first_line(exc)})"
        ) from None
    # a resumed search must not replay the first process's random draws: seed by history
    study.sampler = optuna.samplers.TPESampler(seed=sampler_seed + len(study.trials))
    known = study.user_attrs.get("key")
    if known is None:
        study.set_user_attr("key", key)
        study.set_user_attr("overrides", overrides)
    elif known != key:
        raise ConfigError(
            f"--study={name}: that study searches another config or space "
            f"(its overrides: {' '.join(study.user_attrs.get('overrides', []))}); "
            f"choose another --study"
        )
    return study


def search(args) -> dict:
    """Run (or resume) the search the arguments describe; returns the best trial's summary."""
    cfg, overrides = base_config(args.overrides)
    check(cfg, args)
    try:
        import optuna
    except ImportError:
        raise ConfigError(
            "unetexp search needs Optuna: pip install -e '.[scale]' (or '.[dev]')"
        ) from None
    import mlflow

    from unetexp.experiment import JobContext, run_experiment

    cfg.tracking.sweep = cfg.tracking.sweep or "search"
    key = study_key(cfg, args)
    name = (
        args.study
        or "alpha-lr-" + hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
    )
    storage = args.storage or default_storage(cfg.tracking.uri)
    experiment_id = connect(cfg.tracking.uri, cfg.tracking.experiment)
    client = mlflow.MlflowClient()

    study = _open_study(optuna, name, storage, key, overrides, args.sampler_seed)
    retried = _retry_dead_trials(study, optuna)
    parent = _parent(client, cfg, study, experiment_id, name, storage, overrides)
    states = optuna.trial.TrialState
    done = len(study.get_trials(deepcopy=False, states=(states.COMPLETE,)))
    todo = max(0, args.trials - done)
    log.info(
        "search %s: %d of %d trials done, %d to run%s; parent run %s, storage %s",
        name,
        done,
        args.trials,
        todo,
        f" ({retried} of a killed search retried)" if retried else "",
        parent,
        storage,
    )
    (alpha_low, alpha_high), (lr_low, lr_high) = args.alpha, args.lr

    def objective(trial) -> float:
        for attr, value in process_tags().items():  # who runs it: see _retry_dead_trials
            trial.set_user_attr(attr, value)
        alpha = trial.suggest_float("loss.alpha", alpha_low, alpha_high)
        lr = trial.suggest_float("train.lr", lr_low, lr_high, log=True)
        trial_cfg = copy.deepcopy(cfg)
        trial_cfg.loss.alpha, trial_cfg.train.lr = alpha, lr
        trial_cfg.tracking.run_name = (
            cfg.tracking.run_name or f"trial{trial.number}-a{alpha:.3f}-lr{lr:.2e}"
        )
        job = JobContext(
            overrides=[*overrides, f"loss.alpha={alpha}", f"train.lr={lr}"],
            job_num=trial.number,
            parent_run_id=parent,
        )
        result = run_experiment(trial_cfg, job)
        run_id = result["run_id"]
        trial.set_user_attr("run_id", run_id)
        trial.set_user_attr("reused", bool(result["skipped"]))
        if not result["skipped"]:
            client.set_tag(run_id, "optuna_study", name)
            client.set_tag(run_id, "optuna_trial", str(trial.number))
        metric = client.get_run(run_id).data.metrics.get(OBJECTIVE)
        if metric is None:
            raise ConfigError(f"run {run_id} has no {OBJECTIVE} metric to optimise")
        return float(metric)

    def after_trial(study, trial) -> None:
        if trial.value is None:
            return
        client.log_metric(parent, f"trial_{OBJECTIVE}", trial.value, step=trial.number)
        tag_best(client, parent, study)
        best = study.best_trial
        log.info(
            "trial %d: %s %.4f (%s); best: trial %d, %.4f",
            trial.number,
            OBJECTIVE,
            trial.value,
            ", ".join(f"{k} {v:.4g}" for k, v in trial.params.items()),
            best.number,
            best.value,
        )

    with parents.ended_on_error(cfg.tracking.uri, parent):
        if todo:
            study.optimize(objective, n_trials=todo, callbacks=[after_trial])
        tag_best(client, parent, study)
    parents.end_parent(cfg.tracking.uri, parent, "FINISHED")
    best = study.best_trial
    return {
        "study": name,
        "storage": storage,
        "parent_run_id": parent,
        "trained": todo,
        "best_trial": best.number,
        "best_value": best.value,
        "best_params": best.params,
        "best_run_id": best.user_attrs.get("run_id"),
    }
