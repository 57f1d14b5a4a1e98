"""A job's training state at every epoch end, so that a killed job resumes where it stopped.

Keras's own `BackupAndRestore` keeps the model, its optimizer (weights, slots, learning rate,
step count) and the epoch, with a second copy against a kill while it writes. This adds what
Keras's callbacks and ours hold only in memory: every epoch's metrics (the history the job logs
to MLflow), early stopping's and ReduceLROnPlateau's counters, early stopping's best weights,
and the training seconds so far. An epoch's metrics reach MLflow only once they are saved, so
a resumed job logs each epoch exactly once (`missing` ones first: a kill between the save and
the log). Imports Keras.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Collection
from pathlib import Path

import numpy as np

from unetexp.training.callbacks import EpochReporter
from unetexp.training.checkpoint_files import KERAS_EPOCH, STATE, saved_epoch
from unetexp.training.runtime import keras

ES_KEYS = ("wait", "stopped_epoch", "best", "best_epoch")
RLR_KEYS = ("wait", "best", "cooldown_counter")


class Checkpoint(keras.callbacks.BackupAndRestore):
    """Last among a job's callbacks, so that it saves what the others updated this epoch, and
    restores their state after they reset it at the start of `fit`."""

    def __init__(
        self,
        folder: Path,
        reporter: EpochReporter,
        callbacks: list,
        epochs: int,
        logged: Collection[int] = (),
    ):
        super().__init__(str(folder), save_freq="epoch", delete_checkpoint=False)
        self.double_checkpoint = True  # Keras keeps the previous epoch's copy (a kill mid-write)
        self.folder, self.reporter, self.epochs = Path(folder), reporter, epochs
        self.others, self.logged = callbacks, set(logged)
        self.entries: list[dict] = []  # one per epoch done: its metrics and the callbacks' state
        self.resumed_at = 0  # from 1: the first epoch this process trains, when it resumed
        self.seconds = 0.0  # spent saving, every process of the run together (its cost)
        self._started = time.perf_counter()

    @property
    def seconds_before(self) -> float:
        """Training seconds of the processes before this one."""
        return float(self.entries[-1]["elapsed_s"]) if self.entries and self.resumed_at else 0.0

    def elapsed(self) -> float:
        return self.seconds_before + time.perf_counter() - self._started

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)  # weights, optimizer and epoch, when a checkpoint is there
        done = saved_epoch(self.folder)
        state = self.folder / STATE
        if not done or not state.is_file():
            return
        # the state is written before Keras's files: it may hold one epoch more than they do
        self.entries = json.loads(state.read_text())["epochs"][:done]
        self.resumed_at = done + 1
        last = self.entries[-1]
        self.seconds = float(last.get("checkpoint_s", 0.0))
        self.reporter.restore([entry["metrics"] for entry in self.entries])
        for callback in self.others:
            self._restore(callback, last)
        self._started = time.perf_counter()
        for epoch, entry in enumerate(self.entries, start=1):
            if epoch not in self.logged:
                self.reporter.publish(epoch, entry["metrics"])

    def on_epoch_end(self, epoch, logs=None):
        began = time.perf_counter()
        self._save(epoch, logs)
        self.seconds += time.perf_counter() - began
        self.reporter.publish(epoch + 1, self.reporter.latest)

    def _save(self, epoch, logs) -> None:
        stopped = bool(self.model.stop_training)
        entry = {
            "metrics": self.reporter.latest,
            "elapsed_s": self.elapsed(),
            "stopped": stopped,
            "checkpoint_s": self.seconds,
        }
        for callback in self.others:
            entry.update(self._state(callback))
        self.entries.append(entry)
        self._write(STATE, json.dumps({"epochs": self.entries}))
        super().on_epoch_end(epoch, logs)
        if stopped:  # early stopping ended training: a resumed job trains no further epoch
            self._write(KERAS_EPOCH, json.dumps({"epoch": self.epochs, "batch": 0}))

    def _write(self, name: str, text: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        part = self.folder / f"{name}.part"
        part.write_text(text)
        os.replace(part, self.folder / name)

    def _state(self, callback) -> dict:
        if isinstance(callback, keras.callbacks.EarlyStopping):
            state = {f"es_{k}": _plain(getattr(callback, k)) for k in ES_KEYS}
            if callback.best_weights is not None:
                best = self.folder / f"best-{callback.best_epoch}.weights.npz"
                if not best.is_file():
                    self.folder.mkdir(parents=True, exist_ok=True)
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
