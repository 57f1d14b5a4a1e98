"""Keras callbacks of a job and the metric names MLflow shows: EarlyStopping and
ReduceLROnPlateau from the config, and the per-epoch reporter. Imports TensorFlow."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from unetexp.training.runtime import keras

log = logging.getLogger(__name__)

EPOCH_KEYS = ("loss", "accuracy", "dice", "iou", "val_loss", "val_accuracy", "val_dice", "val_iou")
FULL_HEAD = "output1"  # the full-resolution head of a deep-supervision model
TRAIN = "train_"  # MLflow's prefix of the training split's epoch metrics


def flat_metrics(logs: dict, deep: bool) -> dict[str, float]:
    """Keras's epoch (or evaluate) logs under flat names (MLflow prefixes them: `test_`, and
    `train_` per epoch, see `epoch_metrics`).

    A plain model keeps `loss`, `accuracy`, `dice`, `iou` (and `val_*`). For a deep-supervision
    model the same names carry the full-resolution head's values (Keras's `output1_*`), so
    that runs compare like with like; the weighted sum of the heads' losses becomes
    `loss_total`, and the side heads keep Keras's names (`output2_loss`, `val_output3_dice`).
    """
    logs = {k: float(v) for k, v in (logs or {}).items()}
    if not deep:
        return {k: v for k, v in logs.items() if k in EPOCH_KEYS}
    out = {}
    for key, value in logs.items():
        prefix = "val_" if key.startswith("val_") else ""
        base = key[len(prefix) :]
        if base == "loss":
            out[f"{prefix}loss_total"] = value
        elif base.startswith(f"{FULL_HEAD}_"):
            out[prefix + base[len(FULL_HEAD) + 1 :]] = value
        elif base.startswith(("output2_", "output3_")):
            out[key] = value
    return out


def epoch_metrics(logs: dict, deep: bool) -> dict[str, float]:
    """An epoch's metrics under the names MLflow shows: the flat names of `flat_metrics`, the
    training split's prefixed `train_` (`train_loss`, `train_dice`, `train_output2_loss`, ...)
    beside `val_*`, so that no training figure passes for a test result."""
    return {
        k if k.startswith("val_") else TRAIN + k: v for k, v in flat_metrics(logs, deep).items()
    }


SHOWN = tuple(epoch_metrics(dict.fromkeys(EPOCH_KEYS, 0.0), deep=False))  # the epoch's log line


def keras_monitor(name: str, deep: bool) -> str:
    """The Keras log key behind a monitored metric name (the flat names of `flat_metrics`)."""
    if not deep or name.startswith(("output", "val_output")):
        return name
    if name.endswith("loss_total"):
        return name[: -len("_total")]  # val_loss_total -> Keras's val_loss (weighted sum)
    prefix = "val_" if name.startswith("val_") else ""
    return f"{prefix}{FULL_HEAD}_{name[len(prefix) :]}"  # val_loss -> val_output1_loss


def _mode(name: str) -> str:
    return "min" if name.endswith(("loss", "loss_total")) else "max"


def make_callbacks(train_cfg, deep: bool = False) -> list[keras.callbacks.Callback]:
    """EarlyStopping and ReduceLROnPlateau as `train.early_stopping` / `train.reduce_lr` say
    (none when both are disabled, as in the ablation tables)."""
    callbacks: list[keras.callbacks.Callback] = []
    es, rl = train_cfg.early_stopping, train_cfg.reduce_lr
    if es.enabled:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=keras_monitor(es.monitor, deep),
                mode=_mode(es.monitor),
                patience=es.patience,
                min_delta=es.min_delta,
                restore_best_weights=es.restore_best_weights,
            )
        )
    if rl.enabled:
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=keras_monitor(rl.monitor, deep),
                mode=_mode(rl.monitor),
                factor=rl.factor,
                patience=rl.patience,
                min_delta=rl.min_delta,
                min_lr=rl.min_lr,
            )
        )
    return callbacks


class EpochReporter(keras.callbacks.Callback):
    """One log line per epoch, and the epoch's metrics (with the learning rate the epoch used)
    to `on_epoch`; keeps the history under MLflow's names (`epoch_metrics`, and `lr`). Goes
    first among the callbacks, so the learning rate is read before ReduceLROnPlateau changes
    it. With `deferred`, an epoch's metrics wait in `latest` until `publish` (the checkpoint
    saves them first: `checkpoint.Checkpoint`)."""

    def __init__(
        self,
        epochs: int,
        label: str,
        on_epoch: Callable[[int, dict], None] | None,
        deep: bool = False,
        deferred: bool = False,
    ):
        super().__init__()
        self.epochs, self.label, self.on_epoch, self.deep = epochs, label, on_epoch, deep
        self.deferred = deferred
        self.history: dict[str, list[float]] = {}
        self.latest: dict[str, float] = {}
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        metrics = epoch_metrics(logs, self.deep)
        metrics["lr"] = float(self.model.optimizer.learning_rate.numpy())
        self._remember(metrics)
        shown = "  ".join(f"{k} {metrics[k]:.4f}" for k in SHOWN if k in metrics)
        log.info(
            "%sepoch %d/%d  %s  lr %.2g  (%.1fs)",
            self.label,
            epoch + 1,
            self.epochs,
            shown,
            metrics["lr"],
            time.perf_counter() - self._start,
        )
        lr = metrics["lr"]  # MLflow's chart of a constant lr of 0.001 reads 0; its log10 -3
        self.latest = {**metrics, **({"lr_log10": math.log10(lr)} if lr > 0 else {})}
        if not self.deferred:
            self.publish(epoch + 1, self.latest)

    def _remember(self, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            if key != "lr_log10":
                self.history.setdefault(key, []).append(value)

    def restore(self, epochs: list[dict[str, float]]) -> None:
        """The history of the epochs a resumed job's checkpoint holds."""
        self.history = {}
        for metrics in epochs:
            self._remember(metrics)

    def publish(self, epoch: int, metrics: dict[str, float]) -> None:
        """Epoch `epoch` (from 1) to `on_epoch` (MLflow)."""
        if self.on_epoch:
            self.on_epoch(epoch, metrics)


def best_epoch(history: dict[str, list[float]], callbacks: list) -> int:
    """From 1: early stopping's best epoch (the restored weights' one when it restores them),
    else the epoch with the lowest validation loss."""
    for callback in callbacks:
        if isinstance(callback, keras.callbacks.EarlyStopping) and callback.best is not None:
            return int(callback.best_epoch) + 1
    values = history.get("val_loss") or [0.0]
    return int(min(range(len(values)), key=values.__getitem__)) + 1
