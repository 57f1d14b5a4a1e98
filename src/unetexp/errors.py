"""User-facing errors: caught at the entrypoint and printed as one line, no traceback."""


class UnetexpError(Exception):
    """A problem the user can fix; its message is the whole report."""


class ConfigError(UnetexpError):
    """A config value that cannot build, train or track a model."""


class StoreError(UnetexpError):
    """The MLflow store or its artifact folder cannot be written (read-only, full, deleted)."""


class DataError(UnetexpError):
    """A data file that is missing or not what the loader expects."""


class SweepStopped(Exception):
    """Jobs of a sweeper's round failed in other processes: the sweep ends, its Hydra callback
    reports them (the decide and search sweepers)."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type when it has none): a third-party
    error (MLflow, Hydra, pandas) fits in a one-line report."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def one_line(exc: BaseException) -> str:
    """An exception's whole message on one line (a decoder's or scikit-learn's multi-line text)."""
    return " ".join(str(exc).split())


def exit_with_error(error: Exception, code: int = 2) -> None:
    """Print the one-line report a user sees and exit non-zero, without a traceback."""
    import sys

    print(f"unetexp: error: {error}", file=sys.stderr, flush=True)
    raise SystemExit(code)
