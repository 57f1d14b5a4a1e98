"""This machine and this process: usable cores, and who runs a run (to tell a crashed run
from a live one)."""

from __future__ import annotations

import os
import socket
import sys


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS has one)."""
    return (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )


def process_tags() -> dict[str, str]:
    """Who runs this run: lets a later start tell a crashed run from a live one; under Slurm,
    its job (`1234_3` for task 3 of array 1234, as squeue and sacct name it) and how many
    times Slurm requeued it; in a Ray worker, its node (nodes of one machine share a host)."""
    tags = {"host": socket.gethostname(), "pid": str(os.getpid())}
    env = os.environ
    if "SLURM_JOB_ID" in env:
        array, task = env.get("SLURM_ARRAY_JOB_ID"), env.get("SLURM_ARRAY_TASK_ID")
        tags["slurm_job_id"] = f"{array}_{task}" if array and task else env["SLURM_JOB_ID"]
        tags["slurm_restart_count"] = env.get("SLURM_RESTART_COUNT", "0")
    ray = sys.modules.get("ray")  # imported in a Ray worker; never imported here
    if ray is not None and ray.is_initialized():
        tags["ray_node_id"] = ray.get_runtime_context().get_node_id()
    return tags


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
