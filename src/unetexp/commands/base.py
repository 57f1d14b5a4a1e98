"""What every `unetexp COMMAND` shares: its argument parser, Ctrl-C for `kill`, and a quiet end
when the reader of its output goes away."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable

from unetexp.errors import ConfigError, exit_with_error

# the shell's code for a process that SIGPIPE stopped (128 + 13): `git log | head` gives the same
OUTPUT_CLOSED_EXIT = 128 + signal.SIGPIPE
INTERRUPTED_EXIT = 128 + signal.SIGINT  # as a shell reports a command that Ctrl-C stopped


class Parser(argparse.ArgumentParser):
    """Argument errors as the one line every unetexp command prints (`unetexp: error: ...`),
    exit code 2, instead of argparse's usage block."""

    def error(self, message):
        exit_with_error(ConfigError(f"{self.prog}: {message}"))


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def sigterm_as_interrupt() -> None:
    """`kill` (SIGTERM) ends a run as KILLED, like Ctrl-C."""
    signal.signal(signal.SIGTERM, _interrupt)


class OutputClosed(BaseException):
    """Nobody reads stdout any more (`unetexp export | head -1`). A BaseException, so that no
    `except Exception` on the way (Hydra's error report, logging's handlers, argparse's help)
    turns it into a traceback; a run it stops ends FAILED."""


class _GuardedStdout:
    """sys.stdout, except that the write which finds its reader gone sends the rest of the
    output to /dev/null and raises OutputClosed, synchronously, from wherever it was called."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def __getattr__(self, name):
        return getattr(self._stream, name)

    def _guarded(self, call, *args):
        try:
            return call(*args)
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())
            raise OutputClosed from None

    def write(self, text: str) -> int:
        return self._guarded(self._stream.write, text)

    def writelines(self, lines) -> None:
        self._guarded(self._stream.writelines, lines)

    def flush(self) -> None:
        self._guarded(self._stream.flush)


def run_quietly(command: Callable[[], int | None]) -> int | None:
    """`command()`'s exit code; 141 when its output pipe closed (no BrokenPipeError traceback,
    no "Exception ignored" at the interpreter's last flush); 130 on Ctrl-C or `kill` in a
    command that does not train (files are written whole or not at all: nothing to undo)."""
    sys.stdout = _GuardedStdout(sys.stdout)
    try:
        try:
            return command()
        finally:
            sys.stdout.flush()  # buffered output meets a closed pipe here, not at interpreter exit
    except OutputClosed:
        return OUTPUT_CLOSED_EXIT
    except KeyboardInterrupt:
        print("unetexp: interrupted", file=sys.stderr, flush=True)
        return INTERRUPTED_EXIT
