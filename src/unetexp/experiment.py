"""One experiment, start to end: validate, load data, train, log. Plain Python, no Hydra.

Everything that can be wrong with the config or the data is checked before Keras (TensorFlow)
is imported and before any MLflow run exists, so a bad input leaves nothing behind.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from unetexp.config.hashing import config_hash
from unetexp.config.validation import check_depth, validate
from unetexp.data import open_dataset
from unetexp.data.identity import data_identity
from unetexp.data.load import Dataset
from unetexp.data.split import split
from unetexp.tracking import parent
from unetexp.tracking.datasets import log_dataset
from unetexp.tracking.job import git_commit, job_run
from unetexp.tracking.naming import job_name, run_description
from unetexp.tracking.params import run_params
from unetexp.tracking.store import retry_server_for
from unetexp.training import backend
from unetexp.training.checkpoint_files import checkpoint_root, remove
from unetexp.tuning.trial import PRUNED_TAG, Pruned, TrialLink

log = logging.getLogger(__name__)

RESUME_NOTE = (
    "resumed from a checkpoint: the epochs after it saw the data in another order, with "
    "another random state, so its numbers can differ from an uninterrupted run's"
)


@dataclass
class JobContext:
    """What the launcher knows about this job (empty for a plain single run)."""

    overrides: list[str] = field(default_factory=list)
    job_num: int | None = None
    parent_run_id: str | None = None
    trial: TrialLink | None = None  # a search's trial: epochs go to its study, which may prune

    @property
    def label(self) -> str:
        return "" if self.job_num is None else f"[#{self.job_num}] "


def floor_baselines(y_test) -> dict[str, float]:
    """What predicting all background or all object scores on this test split: the floor
    that gives "79 % accuracy" its meaning."""
    positive = float(y_test.mean())
    return {
        "floor_background_accuracy": 1.0 - positive,
        "floor_object_accuracy": positive,
        "floor_object_dice": 2.0 * positive / (positive + 1.0),
    }


_LOADED: dict[tuple, tuple[Dataset, dict[str, str]]] = {}  # this process's last data and tags


def load_once(data_cfg) -> tuple[Dataset, dict[str, str]]:
    """The dataset and its identity tags (file hash), read, converted and hashed once per
    process: a sequential multirun's jobs share them while the files are unchanged (size and
    modification time; the arrays are only ever indexed, never written)."""
    dataset_key = OmegaConf.to_yaml(data_cfg)
    files = [Path(p) for p in (data_cfg.path, data_cfg.images, data_cfg.masks) if p]
    stamp = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files if p.is_file())
    key = (dataset_key, stamp)
    if key not in _LOADED:
        dataset = open_dataset(data_cfg)  # bad data stops here, before the store
        _LOADED.clear()
        _LOADED[key] = (
            dataset,
            data_identity(
                dataset.source, dataset.images, dataset.masks, dataset.sha256, dataset.counts
            ),
        )
    return _LOADED[key]


def check_image_size(depth: int, dataset: Dataset) -> None:
    """The model's depth against the images the data brought (the data layer knows no model)."""
    for side in sorted(set(dataset.images.shape[1:3])):
        check_depth(depth, side, dataset.source)


def run_experiment(cfg: DictConfig, job: JobContext | None = None) -> dict:
    """Train and evaluate the model `cfg` describes, logged as one MLflow run.

    A FINISHED run with the same config hash (seed included) is reused instead, unless
    `force`. Returns the run id, whether it was skipped, and the final metrics."""
    job = job or JobContext()
    validate(cfg)
    dataset, identity = load_once(cfg.data)
    check_image_size(cfg.model.depth, dataset)
    splits = split(
        dataset, cfg.data.test_fraction, cfg.data.val_fraction, cfg.seed, stratify=cfg.data.stratify
    )
    retry_server_for(cfg.tracking.retry_s)  # a server restarted mid-job is ridden out
    parent.check_parent(cfg.tracking.uri, job.parent_run_id)
    # before Keras loads (a process already on another backend stops here, before any run)
    backend.use_backend(cfg.train.backend, cfg.train.deterministic, cfg.train.intra_op_threads)
    name = job_name(cfg, job.overrides)
    digest = config_hash(cfg)
    tags = {
        "overrides": " ".join(job.overrides),
        "config_hash": digest,
        "role": "job",
        **identity,
        "mlflow.note.content": run_description(
            cfg, dataset.source, splits.sizes(), job.job_num, job.parent_run_id
        ),
    }
    if job.job_num is not None:
        tags["job_num"] = str(job.job_num)
    commit = git_commit()
    if commit:
        tags["git_commit"] = commit
    if job.trial:
        tags.update(job.trial.tags())
    params = run_params(cfg, splits.sizes())
    checkpoints = (
        checkpoint_root(cfg.tracking.uri, cfg.train.checkpoint_dir) if cfg.train.resume else None
    )
    with job_run(
        cfg.tracking.uri,
        cfg.tracking.experiment,
        name,
        tags,
        params,
        parent_run_id=job.parent_run_id,
        force=cfg.force,
        label=job.label,
        checkpoints=checkpoints,
        heartbeat_s=cfg.tracking.heartbeat_s,
        stale_after_s=cfg.tracking.stale_after_s,
    ) as run:
        if run.reused:
            parent.note_reused(cfg.tracking.uri, job.parent_run_id, job.job_num, run.run_id)
            log.info(
                "%sskipped %s: FINISHED run %s has this config and data (force=true retrains)",
                job.label,
                name,
                run.run_id,
            )
            return {"run_id": run.run_id, "skipped": True}
        log.info(
            "%s%s: %s, %s, run %s",
            job.label,
            name,
            dataset.source,
            ", ".join(f"{k} {v}" for k, v in splits.sizes().items()),
            run.run_id,
        )
        if job.trial and run.resumed:  # a killed search's run, resumed by the trial retrying it
            run.set_tags(job.trial.tags())
            job.trial.replay(run.client(), run.run_id)
        if not run.resumed:
            log_dataset(
                dataset.source,
                identity["data_sha256"],
                dataset.images,
                dataset.masks,
                splits.sizes(),
                cfg.seed,
            )
        from unetexp.training.fit import train_and_evaluate  # Keras loads here, and only here

        state = checkpoints / run.run_id if checkpoints else None
        built: dict[str, float] = {}
        try:
            result = train_and_evaluate(
                cfg,
                splits,
                on_epoch=(
                    job.trial.reporting(run.log_epoch, cfg.train.epochs)
                    if job.trial
                    else run.log_epoch
                ),
                label=job.label,
                checkpoint_dir=state,
                logged_epochs=run.logged_epochs() if run.resumed else (),
                on_built=built.update,
            )
        except Pruned as stop:  # the search's pruner: KILLED, its epochs kept, nothing to resume
            remove(state)
            run.stop({PRUNED_TAG: str(stop.epoch)}, built)
            assert job.trial is not None  # only a trial's on_epoch raises Pruned
            job.trial.pruned(run.run_id)
            log.info("%spruned %s after epoch %d (run %s)", job.label, name, stop.epoch, run.run_id)
            return {"run_id": run.run_id, "skipped": False, PRUNED_TAG: stop.epoch}
        except Exception:  # a FAILED run is never resumed: its state goes (Ctrl-C keeps it)
            remove(state)
            raise
        if result.resumed_at:
            run.set_tags({"resumed_at_epoch": str(result.resumed_at), "resume_note": RESUME_NOTE})
            log.info("%sresumed at epoch %d", job.label, result.resumed_at)
        run.set_tags({"device": backend.device()})  # CPU or the GPU's name; the backend is a param
        metrics = {
            "n_params": result.n_params,
            "train_time_s": result.train_time_s,
            "epochs_run": result.epochs_run,
            "best_epoch": result.best_epoch,
            **({"checkpoint_time_s": result.checkpoint_time_s} if state else {}),
            **result.test,
            **floor_baselines(splits.y_test),
        }
        from unetexp.results.artifacts import write_run_files

        with tempfile.TemporaryDirectory(prefix="unetexp-") as folder:
            run.log_result(
                metrics,
                {
                    "config.yaml": OmegaConf.to_yaml(cfg, resolve=True),
                    "classification_report.json": result.report,
                    **write_run_files(splits, result, Path(folder), name),
                },
            )
        if cfg.train.save_model:
            from unetexp.tracking.model import log_model
            from unetexp.tracking.model_card import model_description, model_tags
            from unetexp.training.model import inference_model

            card = model_tags(run.run_id, name, metrics, identity, splits.x_test.shape[1:])
            model_uri = log_model(
                inference_model(result.model),
                splits.x_test[:1],
                cfg.tracking.register_model,
                (card, model_description(card, tags["mlflow.note.content"])),
            )
            log.info(
                "%smodel logged: runs:/%s/model (%s)%s",
                job.label,
                run.run_id,
                model_uri,
                f", registered as {cfg.tracking.register_model}"
                if cfg.tracking.register_model
                else "",
            )
    remove(state)  # FINISHED: nothing to resume
    log.info(
        "%sdone %s: %d params, %d epochs (best %d), %.1fs, accuracy %.4f, dice %.4f, "
        "iou %.4f (run %s)",
        job.label,
        name,
        result.n_params,
        result.epochs_run,
        result.best_epoch,
        result.train_time_s,
        metrics["test_accuracy"],
        metrics["test_dice"],
        metrics["test_iou"],
        run.run_id,
    )
    return {"run_id": run.run_id, "skipped": False, **metrics}
