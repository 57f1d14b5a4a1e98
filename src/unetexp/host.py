"""This machine and this process: usable cores, and who runs a run (to tell a crashed run
from a live one)."""

from __future__ import annotations

import os
import socket


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS has one)."""
    return (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )


def process_tags() -> dict[str, str]:
    """Who runs this run: lets a later start tell a crashed run from a live one."""
    return {"host": socket.gethostname(), "pid": str(os.getpid())}


def alive(host: str | None, pid: str | None) -> bool:
    """Whether the process `pid` of `host` still runs; processes of other hosts (or without a
    pid) are assumed alive."""
    if host != socket.gethostname() or pid is None or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
