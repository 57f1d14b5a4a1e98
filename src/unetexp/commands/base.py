"""What every `unetexp COMMAND` shares: its argument parser, and Ctrl-C for `kill`."""
from __future__ import annotations

import argparse
import signal

from unetexp.errors import ConfigError, exit_with_error


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
