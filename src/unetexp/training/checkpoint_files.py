"""Where a job keeps its training state to resume (`train.resume`), and what it holds, in
words that need no Keras (the claim reads them before Keras loads)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from unetexp.config.paths import project_root
from unetexp.tracking.store import resolve_uri, sqlite_path

STATE = "unetexp_state.json"  # unetexp's, beside Keras's latest.weights.h5 and the file below
KERAS_EPOCH = "training_metadata.json"  # BackupAndRestore's: the epochs its weights have done


def checkpoint_root(uri: str | None, configured: str | None) -> Path:
    """`train.checkpoint_dir`; else next to a SQLite store (mlruns/checkpoints); else the
    project's checkpoints/. A job resumed on another node must read it: on a cluster, a
    shared folder (docs/scaling.md)."""
    if configured:
        return Path(configured).expanduser().resolve()
    db = sqlite_path(resolve_uri(uri))
    return (db.resolve().parent if db else project_root()) / "checkpoints"


def saved_epoch(folder: Path) -> int:
    """The epochs a checkpoint holds (0: none, or none readable)."""
    try:
        return int(json.loads((folder / KERAS_EPOCH).read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def remove(folder: Path | None) -> None:
    """A finished (or failed) run's checkpoint: it will not be resumed."""
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
