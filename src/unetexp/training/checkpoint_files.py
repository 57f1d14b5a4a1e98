"""Where a job keeps its training state to resume (`train.resume`), and what it holds, in
words that need no Keras (the claim reads them before Keras loads)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from unetexp.config.paths import project_root
from unetexp.tracking.store import resolve_uri, sqlite_path

STATE = "state.json"  # the epochs done, and the .npz of the last one's variables


def checkpoint_root(uri: str | None, configured: str | None) -> Path:
    """`train.checkpoint_dir`; else next to a SQLite store (mlruns/checkpoints); else the
    project's checkpoints/. A job resumed on another node must read it: on a cluster, a
    shared folder (docs/scaling.md)."""
    if configured:
        return Path(configured).expanduser().resolve()
    db = sqlite_path(resolve_uri(uri))
    return (db.resolve().parent if db else project_root()) / "checkpoints"


def read_state(folder: Path) -> dict | None:
    """A checkpoint's state (`checkpoint.Checkpoint` writes it), when it is whole."""
    try:
        state = json.loads((folder / STATE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not state.get("epochs"):
        return None
    return state if (folder / str(state.get("arrays"))).is_file() else None


def saved_epoch(folder: Path) -> int:
    """The epochs a checkpoint holds (0: none, or none readable)."""
    state = read_state(folder)
    return len(state["epochs"]) if state else 0


def remove(folder: Path | None) -> None:
    """A finished (or failed) run's checkpoint: it will not be resumed."""
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
