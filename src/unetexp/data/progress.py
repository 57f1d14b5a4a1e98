"""A one-line progress report on stderr, for downloads and decoding (no tqdm needed).

On a terminal the line is redrawn in place; in a log (not a tty) it prints a line every 10 %
of a long job (one line at the end of a short one) so that CI and Hydra job logs stay short.
"""

from __future__ import annotations

import sys
import time

LONG = 100  # items (or bytes, for downloads: always) above which a log gets 10 % lines


def _megabytes(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


class Progress:
    def __init__(
        self, label: str, total: int | None, unit: str = "", initial: int = 0, stream=None
    ):
        self.label, self.total, self.unit = label, total, unit
        self.stream = stream or sys.stderr
        self.done = self.initial = initial  # initial: bytes already there when a download resumes
        self.start = time.monotonic()
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_draw = 0.0
        self._last_decile = -1

    def _text(self) -> str:
        bytes_ = self.unit == "B"
        done = _megabytes(self.done) if bytes_ else f"{self.done}"
        if self.total:
            total = _megabytes(self.total) if bytes_ else f"{self.total}{self.unit}"
            text = f"{self.label}: {100 * self.done // self.total:3d}% {done}/{total}"
        else:
            text = f"{self.label}: {done}{'' if bytes_ else self.unit}"
        elapsed = time.monotonic() - self.start
        if bytes_ and elapsed > 0:
            text += f" ({(self.done - self.initial) / elapsed / 1e6:.1f} MB/s)"
        return text

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._tty:
            now = time.monotonic()
            if now - self._last_draw >= 0.1 or (self.total and self.done >= self.total):
                self._last_draw = now
                self.stream.write("\r" + self._text() + "\033[K")
                self.stream.flush()
        elif self.total and self.total >= LONG:
            decile = 10 * self.done // self.total
            if decile > self._last_decile:
                self._last_decile = decile
                print(self._text(), file=self.stream, flush=True)

    def close(self) -> None:
        took = f" in {time.monotonic() - self.start:.1f}s"
        if self._tty:
            self.stream.write("\r" + self._text() + took + "\033[K\n")
            self.stream.flush()
        elif not self.total or self.total < LONG or self._last_decile < 10:
            print(self._text() + took, file=self.stream, flush=True)
