"""Training and evaluation of one configured U-Net with Keras `fit`.

The only module of the train path that imports TensorFlow; it knows nothing of Hydra or
MLflow: per-epoch metrics go to the `on_epoch` callable the caller passes.
"""
from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Callable


def _import_tensorflow_quietly() -> None:
    """TensorFlow's C++ core prints INFO lines (oneDNN, CUDA drivers) while it loads, before
    TF_CPP_MIN_LOG_LEVEL applies: keep the terminal readable by muting stderr for the import.
    Set TF_CPP_MIN_LOG_LEVEL=0 to see everything."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules or os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0":
        import tensorflow  # noqa: F401
        return
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_import_tensorflow_quietly()

import keras  # noqa: E402

from unetexp.data import Splits  # noqa: E402
from unetexp.losses import make_loss, make_metrics  # noqa: E402
from unetexp.evaluation import pixel_report, report_metrics  # noqa: E402
from unetexp.model import build_from_config, count_params  # noqa: E402

log = logging.getLogger(__name__)

EPOCH_KEYS = ("loss", "accuracy", "dice", "iou", "val_loss", "val_accuracy", "val_dice", "val_iou")
OPTIMIZERS = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
              "rmsprop": keras.optimizers.RMSprop}


@dataclass
class Result:
    model: keras.Model
    n_params: int
    train_time_s: float
    epochs_run: int
    history: dict[str, list[float]]
    test: dict[str, float]  # test_loss, test_accuracy, test_dice, test_iou, test_<class>_<score>
    report: dict = field(default_factory=dict)  # classification report (scikit-learn dict)


def set_threads(intra: int, inter: int, label: str = "") -> bool:
    """TensorFlow's thread pools (`train.intra_op_threads`, `train.inter_op_threads`; 0 = its
    default). They can only be sized before the first op of the process: each job of a parallel
    launcher is a fresh process and gets them; in a sequential multirun the first job's sizes stay,
    and a later job asking for others is told so, not failed. Returns whether they apply."""
    import tensorflow as tf

    threading = tf.config.threading
    wanted = {"intra_op_threads": intra, "inter_op_threads": inter}
    current = {"intra_op_threads": threading.get_intra_op_parallelism_threads(),
               "inter_op_threads": threading.get_inter_op_parallelism_threads()}
    if wanted != current:
        try:
            threading.set_intra_op_parallelism_threads(intra)
            threading.set_inter_op_parallelism_threads(inter)
        except RuntimeError:  # "... cannot be modified after initialization"
            log.warning("%strain.intra_op_threads=%d, train.inter_op_threads=%d not applied: "
                        "TensorFlow already runs with %d, %d in this process", label, intra,
                        inter, current["intra_op_threads"], current["inter_op_threads"])
            return False
    if intra or inter:
        log.info("%sTensorFlow threads: %d intra-op, %d inter-op (0: its default)", label,
                 threading.get_intra_op_parallelism_threads(),
                 threading.get_inter_op_parallelism_threads())
    return True


def seed_everything(seed: int, deterministic: bool) -> None:
    """Fresh Keras state, then one seed for Python, numpy and TensorFlow."""
    keras.backend.clear_session()  # free the previous job's graph in a multirun
    keras.utils.set_random_seed(seed)
    if deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


class EpochReporter(keras.callbacks.Callback):
    """One log line per epoch, and the epoch's metrics (with the learning rate) to `on_epoch`."""

    def __init__(self, epochs: int, label: str, on_epoch: Callable[[int, dict], None] | None):
        super().__init__()
        self.epochs, self.label, self.on_epoch = epochs, label, on_epoch
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        metrics = {k: float(v) for k, v in (logs or {}).items() if k in EPOCH_KEYS}
        metrics["lr"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        shown = "  ".join(f"{k} {metrics[k]:.4f}" for k in EPOCH_KEYS if k in metrics)
        log.info("%sepoch %d/%d  %s  lr %.2g  (%.1fs)", self.label, epoch + 1, self.epochs,
                 shown, metrics["lr"], time.perf_counter() - self._start)
        if self.on_epoch:
            self.on_epoch(epoch + 1, metrics)


def train_and_evaluate(cfg, splits: Splits, on_epoch=None, label: str = "") -> Result:
    """Build, compile and fit the model `cfg` describes, then evaluate it on the test split."""
    set_threads(cfg.train.intra_op_threads, cfg.train.inter_op_threads, label)
    seed_everything(cfg.seed, cfg.train.deterministic)
    model = build_from_config(cfg.model, splits.x_train.shape[1:])
    model.compile(
        optimizer=OPTIMIZERS[cfg.train.optimizer](learning_rate=cfg.train.lr),
        loss=make_loss(cfg.loss.name, cfg.loss.alpha),
        metrics=make_metrics(),
    )
    start = time.perf_counter()
    history = model.fit(
        splits.x_train, splits.y_train,
        validation_data=(splits.x_val, splits.y_val),
        epochs=cfg.train.epochs,
        batch_size=cfg.train.batch_size,
        shuffle=True,
        verbose=0,
        callbacks=[EpochReporter(cfg.train.epochs, label, on_epoch)],
    )
    train_time = time.perf_counter() - start
    scores = model.evaluate(splits.x_test, splits.y_test, batch_size=cfg.train.batch_size,
                            verbose=0, return_dict=True)
    test = {f"test_{k}": float(v) for k, v in scores.items()
            if k in ("loss", "accuracy", "dice", "iou")}
    probabilities = model.predict(splits.x_test, batch_size=cfg.train.batch_size, verbose=0)
    report = pixel_report(splits.y_test, probabilities)
    test.update(report_metrics(report))
    return Result(
        model=model,
        n_params=count_params(model),
        train_time_s=train_time,
        epochs_run=len(history.history.get("loss", [])),
        history={k: [float(v) for v in values] for k, values in history.history.items()},
        test=test,
        report=report,
    )

