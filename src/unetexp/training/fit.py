"""Fit and evaluate one configured U-Net with Keras `fit`.

Knows nothing of Hydra or MLflow: per-epoch metrics go to the `on_epoch` callable the caller
passes. Imports Keras on the process's backend (through `runtime`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from unetexp.training import keras_private
from unetexp.training.augment import AugmentedBatches
from unetexp.training.callbacks import EpochReporter, best_epoch, flat_metrics, make_callbacks
from unetexp.training.checkpoint import Checkpoint
from unetexp.training.evaluation import pixel_report, report_metrics
from unetexp.training.losses import make_loss, make_metrics
from unetexp.training.model import build_from_config, count_params
from unetexp.training.runtime import grow_gpu_memory, keras, seed_everything, set_threads
from unetexp.training.scoring import score

if TYPE_CHECKING:
    from unetexp.data.split import Splits

OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
}


@dataclass
class Result:
    model: keras.Model
    n_params: int
    train_time_s: float
    epochs_run: int
    history: dict[str, list[float]]  # MLflow's epoch metric names (`epoch_metrics`) and lr
    test: dict[str, float]  # test_loss, test_accuracy, test_dice, test_iou, test_<class>_<score>
    report: dict = field(default_factory=dict)  # classification report (scikit-learn dict)
    best_epoch: int = 0  # from 1: the restored weights' epoch, else the lowest val_loss
    probabilities: Any = None  # test-set predictions of the full-resolution head (N, H, W, 1)
    resumed_at: int = 0  # from 1: the first epoch this process trained, after a checkpoint
    checkpoint_time_s: float = 0.0  # seconds of train_time_s spent keeping the training state


def head_targets(masks, n_heads: int) -> list:
    """Deep-supervision targets: the masks, then resized to 1/2 and 1/4 with nearest neighbour
    as the study did (`tf.image.resize(method="nearest")`). Its pick for a side divided by f
    (the depth check makes every side divisible) is pixel f*i + f//2: taken in numpy, the
    same targets on every backend (a test compares them with TensorFlow's)."""
    import numpy as np

    targets = [masks]
    for level in range(1, n_heads):
        step = 2**level
        targets.append(np.ascontiguousarray(masks[:, step // 2 :: step, step // 2 :: step]))
    return targets


def compile_model(model: keras.Model, cfg, deep: bool) -> None:
    """Optimizer, loss and metrics; a deep-supervision model gets one loss per head (weights
    `loss.head_weights`) and the metrics on every head."""
    optimizer = OPTIMIZERS[cfg.train.optimizer](learning_rate=cfg.train.lr)
    if not deep:
        model.compile(
            optimizer=optimizer,
            loss=make_loss(cfg.loss.name, cfg.loss.alpha),
            metrics=make_metrics(),
        )
        return
    heads = list(model.output_names)
    weights = list(cfg.loss.head_weights)
    model.compile(
        optimizer=optimizer,
        loss={h: make_loss(cfg.loss.name, cfg.loss.alpha) for h in heads},
        loss_weights={h: float(weights[i]) for i, h in enumerate(heads)},
        metrics={h: make_metrics() for h in heads},
    )


def prepare_optimizer(model: keras.Model) -> None:
    """Two changes that keep a sequential multirun from growing job after job, with the same
    numbers (a test compares the weights with stock Keras's): the slot variables are created
    now, eagerly (left to the first training step, they are created under `tf.cond`s whose
    graphs outlive `clear_session()`: 88 for Adam at depth 3); and on one device the updates
    take Keras's generic loop (`keras_private`)."""
    model.optimizer.build(model.trainable_variables)
    keras_private.use_generic_update_step(model.optimizer)


def training_data(cfg, splits: Splits, targets, initial_epoch: int) -> tuple[tuple, dict]:
    """fit's training arguments: the arrays as they are (`train.augment=none`, the tables'),
    else augmented batches (`augment.AugmentedBatches`)."""
    if cfg.train.augment == "none":
        arrays = (splits.x_train, targets(splits.y_train))
        return arrays, {"batch_size": cfg.train.batch_size, "shuffle": True}
    batches = AugmentedBatches(
        splits.x_train,
        splits.y_train,
        cfg.train.batch_size,
        cfg.train.augment,
        cfg.seed,
        targets,
        initial_epoch,
    )
    return (batches,), {}


def train_and_evaluate(
    cfg,
    splits: Splits,
    on_epoch=None,
    label: str = "",
    checkpoint_dir: Path | None = None,
    logged_epochs: Collection[int] = (),
    on_built: Callable[[dict[str, float]], None] | None = None,
) -> Result:
    """Build, compile and fit the model `cfg` describes, then score it on the test split
    (`scoring.score`: evaluate's numbers and predict's probabilities in one pass). With a
    `checkpoint_dir`, the training state is kept there at every epoch end, and a state found
    there is resumed (`checkpoint.Checkpoint`; `logged_epochs`: those `on_epoch` had).
    `on_built` gets `n_params` once the model is built: what a run stopped in `fit` (a
    pruned trial) still shows."""
    set_threads(cfg.train.intra_op_threads, cfg.train.inter_op_threads, label)
    grow_gpu_memory()
    seed_everything(cfg.seed, cfg.train.deterministic)
    keras.mixed_precision.set_dtype_policy(cfg.train.precision)  # every job sets its own
    model = build_from_config(cfg.model, splits.x_train.shape[1:])
    n_heads = len(model.outputs)
    deep = n_heads > 1
    compile_model(model, cfg, deep)
    prepare_optimizer(model)
    n_params = count_params(model)
    if on_built:
        on_built({"n_params": n_params})

    def targets(masks):
        return head_targets(masks, n_heads) if deep else masks

    reporter = EpochReporter(cfg.train.epochs, label, on_epoch, deep, deferred=bool(checkpoint_dir))
    callbacks = make_callbacks(cfg.train, deep)
    saver = (
        Checkpoint(checkpoint_dir, reporter, callbacks, cfg.train.epochs, logged_epochs)
        if checkpoint_dir
        else None
    )
    initial_epoch = saver.load(model) if saver else 0
    train_args, train_kwargs = training_data(cfg, splits, targets, initial_epoch)
    start = time.perf_counter()
    model.fit(
        *train_args,
        **train_kwargs,
        validation_data=(splits.x_val, targets(splits.y_val)),
        epochs=cfg.train.epochs,
        initial_epoch=initial_epoch,
        verbose=0,
        callbacks=[reporter, *callbacks, *([saver] if saver else [])],
    )
    train_time = saver.elapsed() if saver else time.perf_counter() - start
    test_targets = head_targets(splits.y_test, n_heads) if deep else [splits.y_test]
    scores, probabilities = score(model, cfg, splits.x_test, test_targets, cfg.train.batch_size)
    test = {f"test_{k}": v for k, v in flat_metrics(scores, deep).items()}
    report = pixel_report(splits.y_test, probabilities)
    test.update(report_metrics(report))
    return Result(
        model=model,
        n_params=n_params,
        train_time_s=train_time,
        epochs_run=len(reporter.history.get("train_loss", [])),
        history=reporter.history,
        test=test,
        report=report,
        best_epoch=best_epoch(reporter.history, callbacks),
        probabilities=probabilities,
        resumed_at=saver.resumed_at if saver else 0,
        checkpoint_time_s=saver.seconds if saver else 0.0,
    )
