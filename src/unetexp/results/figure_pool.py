"""Draw figures in a second process that starts loading matplotlib at once.

Why: `unetexp report` spends most of its second importing pandas and matplotlib and drawing.
Started before the caller imports pandas, a worker imports matplotlib (and then draws) on
another core while the caller reads and aggregates the runs. With one usable core the
figures are drawn here, as before. Spawned, not forked: the caller may hold threads
(TensorFlow in a test process), which a fork would copy half-locked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from unetexp.host import usable_cores

if TYPE_CHECKING:
    from multiprocessing.pool import Pool


def _load_matplotlib() -> None:
    import matplotlib

    from unetexp.results import plots  # noqa: F401  (imports numpy; matplotlib comes next)

    matplotlib.use("Agg")
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401


class FigurePool:
    """`with FigurePool() as pool: pool.draw(plots.table_figure, spec, path)`; leaving the
    block waits for every figure and raises the first drawing error."""

    def __init__(self) -> None:
        self._pool: Pool | None = None
        self._pending: list = []

    def __enter__(self) -> FigurePool:
        if usable_cores() > 1:
            import multiprocessing
            import signal

            # the worker is spawned ignoring SIGINT (kept across exec, and by Python's start):
            # a Ctrl-C, sent to the whole process group, stops the caller, which ends the
            # worker, instead of the worker printing a traceback of its half-done imports
            caller = signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                context = multiprocessing.get_context("spawn")
                self._pool = context.Pool(1, initializer=_load_matplotlib)
            finally:
                signal.signal(signal.SIGINT, caller)
        return self

    def draw(self, function: Callable, *args) -> None:
        """Draw now (one core) or queue for the worker; `args` must pickle (plain data)."""
        if self._pool is None:
            function(*args)
        else:
            self._pending.append(self._pool.apply_async(function, args))

    def __exit__(self, kind, error, trace) -> None:
        if self._pool is None:
            return
        if error is not None:  # the caller failed: its figures are moot, do not wait for them
            self._pool.terminate()
            return
        try:
            for result in self._pending:
                result.get()  # re-raises the worker's exception
        except BaseException:
            self._pool.terminate()
            raise
        self._pool.close()
        self._pool.join()
