"""Where a command writes: checked before any work, so a bad `-o`/`--csv`/`--out` ends in one
line before the store is read; written whole or not at all, so a failure or Ctrl-C half-way
never leaves half a file where a good one was."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from unetexp.errors import ConfigError, UnetexpError


def _existing_ancestor(path: Path) -> Path:
    for folder in path.parents:
        if folder.exists():
            return folder
    return Path(".")


def check_file(path: str | None, flag: str) -> Path | None:
    """`path` as the file a command will write (its folders are made on writing), or a
    one-line ConfigError naming the flag: a folder, or under something that is not one."""
    if not path:
        return None
    out = Path(path)
    try:
        if out.is_dir() or path.endswith("/"):
            raise ConfigError(f"{flag} {path}: is a folder, give a file name")
    except OSError as exc:  # a name too long for the file system
        raise ConfigError(f"{flag} {path[:80]}: {exc.strerror}") from None
    return check_folder(str(out.parent), flag, shown=path) and out


def check_folder(path: str, flag: str, shown: str | None = None) -> Path:
    """`path` as a folder a command will write into (made on writing)."""
    try:
        return _check_folder(Path(path), flag, shown or path)
    except OSError as exc:
        raise ConfigError(f"{flag} {(shown or path)[:80]}: {exc.strerror}") from None


def _check_folder(out: Path, flag: str, shown: str) -> Path:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{flag} {shown}: {out} is a file, not a folder")
    ancestor = out if out.exists() else _existing_ancestor(out)
    if not ancestor.is_dir():
        raise ConfigError(f"{flag} {shown}: {ancestor} is not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {shown}: {ancestor} is not writable")
    return out


@contextmanager
def written(path: Path, flag: str) -> Iterator[Path]:
    """A temporary file beside `path` to write into; it replaces `path` only once the block
    ends without error. An OSError (no space, no permission) is one line naming the flag."""
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield partial
        partial.replace(path)
    except OSError as exc:
        raise UnetexpError(f"{flag} {path}: cannot write it ({exc.strerror or exc})") from None
    finally:
        partial.unlink(missing_ok=True)


def write_csv(table, path: Path, flag: str) -> None:
    """A pandas table as CSV at `path`, whole or not at all."""
    with written(path, flag) as partial:
        table.to_csv(partial, index=False)
