"""TensorFlow's and XLA's C++ log lines held to TF_CPP_MIN_LOG_LEVEL, whoever writes them.

Their C++ core writes absl-format lines (`E0000 00:00:1796171565.57 6513 cuda_platform.cc:52]
failed call to cuInit ...`) straight to file descriptor 2. TensorFlow filters them by
TF_CPP_MIN_LOG_LEVEL only once absl's log is set up: the lines written before that, and on some
machines the cuInit one of a CUDA driver without a GPU, pass whatever the level. And JAX,
which Keras imports where it is installed, sets the level to 1 when nobody did (an import of
Keras before ours: MLflow's pyfunc), letting TensorFlow's errors through: the cuInit line of a
machine without a GPU came before the one-line error a user should see first (CI,
2026-12-01). So the console script sets 3 first (`cli`), and once TensorFlow may load, fd 2
goes through a pipe, and a thread forwards every line but the native ones below the level.
TF_CPP_MIN_LOG_LEVEL=0 leaves fd 2 alone: everything, unfiltered.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading

# `E0000 00:00:1796171565.574519    6513 cuda_platform.cc:52] ...`: severity, date, time, thread
NATIVE_LINE = re.compile(rb"([IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^ \]]+:\d+\] ")
PRE_INIT = b"WARNING: All log messages before absl::InitializeLog() is called"
SEVERITY = {b"I": 0, b"W": 1, b"E": 2, b"F": 3}
_installed: list[tuple[threading.Thread, int]] = []


def shown(line: bytes, level: int) -> bool:
    """Whether a line written to fd 2 reaches the terminal at TF_CPP_MIN_LOG_LEVEL `level`:
    a native line at or above it, and every line that is not native (Python's own)."""
    if line.startswith(PRE_INIT):
        return level <= SEVERITY[b"W"]
    native = NATIVE_LINE.match(line)
    return native is None or SEVERITY[native.group(1)] >= level


def filter_native_logs() -> None:
    """Route fd 2 through the filter, once per process (TF_CPP_MIN_LOG_LEVEL=0: never). The
    pipe is drained at exit, so nothing written before it (a traceback, an error line) is lost."""
    level = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0")
    if _installed or not level.isdigit() or level == "0":
        return
    sys.stderr.flush()
    terminal = os.dup(2)
    read, write = os.pipe()
    os.dup2(write, 2)
    os.close(write)
    worker = threading.Thread(
        target=_forward, args=(read, terminal, int(level)), name="native-log", daemon=True
    )
    worker.start()
    _installed.append((worker, terminal))
    atexit.register(_drain)


def _forward(read: int, terminal: int, level: int) -> None:
    """Copy whole lines from the pipe to the terminal, leaving out the filtered ones; a
    partial line that cannot be native (a prompt, a progress bar) goes out at once."""
    pending = b""
    while chunk := os.read(read, 65536):
        *lines, pending = (pending + chunk).split(b"\n")
        kept = b"".join(line + b"\n" for line in lines if shown(line + b"\n", level))
        if pending and not _may_be_native(pending):
            kept, pending = kept + pending, b""
        if kept:
            os.write(terminal, kept)
    if pending and shown(pending, level):
        os.write(terminal, pending)
    os.close(read)


def _may_be_native(start: bytes) -> bool:
    """Whether a line's first bytes could still become a native line."""
    return start[:1] in SEVERITY or PRE_INIT.startswith(start[: len(PRE_INIT)])


def _drain() -> None:
    """At exit: fd 2 back to the terminal (closing the pipe's end), then wait for the thread
    to forward what is left. A child that still holds the pipe bounds the wait to a second."""
    worker, terminal = _installed[0]
    sys.stderr.flush()
    os.dup2(terminal, 2)
    worker.join(timeout=1.0)
