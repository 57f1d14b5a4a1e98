"""A job's training state at every epoch end, so that a killed job resumes where it stopped.

What is kept: the model's variables and its optimizer's (Adam's slots, the learning rate, the
step count), and what Keras's callbacks and ours hold only in memory: every epoch's metrics
(the history the job logs to MLflow), early stopping's and ReduceLROnPlateau's counters, early
stopping's best weights, the training seconds so far.

Not Keras's `BackupAndRestore`: it keeps the same variables through `save_weights`, whose .h5
writer took 100-130 ms a save for a depth-5 U-Net (3 MB) on this 2-core machine, 1.5 % of a
10-epoch depth-3 job and 4 % of a depth-5 one; the same arrays read and written as one .npz
take about 20 ms. Each epoch's arrays go to a file of their own and the JSON state naming it
is replaced last (the commit point), so a kill at any moment leaves the previous epoch whole.
An epoch's metrics reach MLflow only once they are saved, so a resumed job logs each epoch
exactly once (the ones a kill kept from MLflow first). Imports Keras.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Collection
from pathlib import Path

import numpy as np

from unetexp.training.callbacks import EpochReporter
from unetexp.training.checkpoint_files import STATE, read_state
from unetexp.training.runtime import keras

ES_KEYS = ("wait", "stopped_epoch", "best", "best_epoch")
RLR_KEYS = ("wait", "best", "cooldown_counter")


class Checkpoint(keras.callbacks.Callback):
    """Last among a job's callbacks, so that it saves what the others updated this epoch, and
    restores their state after they reset it at the start of `fit`. `load` (before `fit`)
    puts the variables back and says the epoch to start from."""

    def __init__(
        self,
        folder: Path,
        reporter: EpochReporter,
        callbacks: list,
        epochs: int,
        logged: Collection[int] = (),
    ):
        super().__init__()
        self.folder, self.reporter, self.epochs = Path(folder), reporter, epochs
        self.others, self.logged = callbacks, set(logged)
        self.entries: list[dict] = []  # one per epoch done: its metrics and the callbacks' state
        self.resumed_at = 0  # from 1: the first epoch this process trains, when it resumed
        self.seconds = 0.0  # spent saving, every process of the run together (its cost)
        self._started = time.perf_counter()

    def elapsed(self) -> float:
        """Training seconds so far, those of the processes before this one included."""
        before = float(self.entries[-1]["elapsed_s"]) if self.resumed_at else 0.0
        return before + time.perf_counter() - self._started

    def load(self, model: keras.Model) -> int:
        """The saved variables into `model` (compiled, its optimizer built); the epoch `fit`
        starts from (0: nothing saved; `epochs` once early stopping ended the training)."""
        state = read_state(self.folder)
        if state is None:
            return 0
        self.entries = state["epochs"]
        with np.load(self.folder / state["arrays"]) as saved:
            for i, variable in enumerate([*model.variables, *model.optimizer.variables]):
                variable.assign(saved[f"arr_{i}"])
        self.resumed_at = len(self.entries) + 1
        self.seconds = float(self.entries[-1]["checkpoint_s"])
        self._started = time.perf_counter()
        return self.epochs if self.entries[-1]["stopped"] else len(self.entries)

    def on_train_begin(self, logs=None):
        if not self.resumed_at:
            return
        for callback in self.others:
            self._restore(callback, self.entries[-1])
        self.reporter.restore([entry["metrics"] for entry in self.entries])
        for epoch, entry in enumerate(self.entries, start=1):
            if epoch not in self.logged:
                self.reporter.publish(epoch, entry["metrics"])

    def on_epoch_end(self, epoch, logs=None):
        began = time.perf_counter()
        self._save(epoch + 1)
        self.seconds += time.perf_counter() - began
        self.reporter.publish(epoch + 1, self.reporter.latest)

    def _save(self, epoch: int) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        arrays = f"epoch-{epoch}.npz"
        variables = [*self.model.variables, *self.model.optimizer.variables]
        part = self.folder / f"{arrays}.part"
        with open(part, "wb") as out:
            np.savez(out, *[np.asarray(v.numpy()) for v in variables])
        os.replace(part, self.folder / arrays)
        entry = {
            "metrics": self.reporter.latest,
            "elapsed_s": self.elapsed(),
            "stopped": bool(self.model.stop_training),
            "checkpoint_s": self.seconds,
        }
        for callback in self.others:
            entry.update(self._state(callback))
        self.entries.append(entry)
        state = self.folder / f"{STATE}.part"
        state.write_text(json.dumps({"epochs": self.entries, "arrays": arrays}))
        os.replace(state, self.folder / STATE)  # the commit point
        kept = {arrays, *(e.get("es_best_weights") for e in self.entries[-1:])}
        for old in self.folder.glob("*.npz"):
            if old.name not in kept:
                old.unlink()

    def _state(self, callback) -> dict:
        if isinstance(callback, keras.callbacks.EarlyStopping):
            state = {f"es_{k}": _plain(getattr(callback, k)) for k in ES_KEYS}
            if callback.best_weights is not None:
                best = self.folder / f"best-{callback.best_epoch}.npz"
                if not best.is_file():
                    np.savez(best, *callback.best_weights)
                state["es_best_weights"] = best.name
            return state
        if isinstance(callback, keras.callbacks.ReduceLROnPlateau):
            return {f"rlr_{k}": _plain(getattr(callback, k)) for k in RLR_KEYS}
        return {}

    def _restore(self, callback, entry: dict) -> None:
        if isinstance(callback, keras.callbacks.EarlyStopping):
            for key in ES_KEYS:
                setattr(callback, key, entry[f"es_{key}"])
            if entry.get("es_best_weights"):
                with np.load(self.folder / entry["es_best_weights"]) as saved:
                    callback.best_weights = [saved[f"arr_{i}"] for i in range(len(saved.files))]
        elif isinstance(callback, keras.callbacks.ReduceLROnPlateau):
            for key in RLR_KEYS:
                setattr(callback, key, entry[f"rlr_{key}"])


def _plain(value):
    """A callback's counter as JSON: counts as ints, numpy and backend scalars as floats."""
    if value is None or isinstance(value, (int, np.integer)):
        return None if value is None else int(value)
    return float(value)
