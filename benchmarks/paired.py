"""Paired timing, the only kind that shows a few percent on a VM whose speed drifts 20-40 %
within an hour: the framework and the plain script run in turn (F S S F F S ...: the order
flips every round, so that neither side always runs first), whole processes, and the ratio is taken pair by pair, so that a slow quarter of an hour slows both
sides of a pair alike. Each run records the 1-minute load average just before it (a run
started on a busy machine says so), its wall and CPU seconds and its peak memory (largest
process, `wait4`'s ru_maxrss: a parallel launcher's workers included).
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def run_measured(cmd: list[str], cwd: Path) -> dict:
    """One whole process: wall s, CPU s (user + system, its children included), peak RSS
    MiB, the load before it, and its stdout (the plain script's JSON lines)."""
    load = os.getloadavg()[0]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own usage, its children's included
        wall = time.perf_counter() - start
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    code = proc.returncode = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"benchmark command failed ({code}): {' '.join(cmd)}\n{stderr[-3000:]}")
    return {
        "load_before": load,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_mib": usage.ru_maxrss / 1024,
        "stdout": stdout,
    }


def script_models(stdout: str) -> dict[str, dict]:
    """The plain script's JSON lines, by row (a row trained twice keeps its first)."""
    rows: dict[str, dict] = {}
    for line in stdout.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            rows.setdefault(row["row"], row)
    return rows


def framework_jobs(store: Path) -> list[dict]:
    """Each finished run of a local SQLite store: depth, fit seconds (`train_time_s`) and the
    run's whole duration, read with the standard library (no MLflow import)."""
    query = """
        SELECT r.run_uuid, r.start_time, r.end_time,
               (SELECT value FROM params p WHERE p.run_uuid = r.run_uuid
                 AND p.key = 'model.depth'),
               (SELECT value FROM latest_metrics m WHERE m.run_uuid = r.run_uuid
                 AND m.key = 'train_time_s')
        FROM runs r WHERE r.status = 'FINISHED' ORDER BY r.start_time"""
    with sqlite3.connect(store) as db:
        rows = db.execute(query).fetchall()
    return [
        {"depth": int(depth), "run_s": (end - begin) / 1000, "fit_s": fit}
        for _, begin, end, depth, fit in rows
        if fit is not None and depth is not None
    ]


Framework = Callable[[int], tuple[list[str], Path]]  # round -> command, its new store


def pair_rows(
    framework: Framework,
    script: list[str],
    pairs: int,
    cwd: Path,
    label: dict,
    before: Framework | None = None,
) -> list[dict]:
    """`pairs` rounds run in turn: the framework, then (with `before`) an older checkout's
    framework, then the script, in the reverse order every other round. One row per round,
    with each framework's ratios to that round's script (`ratio`, `cpu_ratio`,
    `memory_ratio`; `before_ratio`, ...); progress on stderr."""
    sides = {"framework": framework, **({"before": before} if before else {})}
    rows = []
    for pair in range(pairs):
        row: dict = {**label, "pair": pair}
        stores, runs = {}, {}
        order = [*sides, "script"]
        for side in order if pair % 2 == 0 else reversed(order):  # ABBA: no side always first
            if side == "script":
                runs[side] = run_measured(script, cwd)
            else:
                command, stores[side] = sides[side](pair)
                runs[side] = run_measured(command, cwd)
        s = runs["script"]
        for side, run in runs.items():
            row.update({f"{side}_{k}": v for k, v in run.items() if k != "stdout"})
        for side in sides:
            prefix = "" if side == "framework" else f"{side}_"
            run = runs[side]
            row[f"{prefix}ratio"] = run["wall_s"] / s["wall_s"]
            row[f"{prefix}cpu_ratio"] = run["cpu_s"] / s["cpu_s"]
            row[f"{prefix}memory_ratio"] = run["peak_mib"] / s["peak_mib"]
            for job in framework_jobs(stores[side]):
                row[f"{side}_fit_d{job['depth']}_s"] = job["fit_s"]
                row[f"{side}_outside_fit_d{job['depth']}_s"] = job["run_s"] - job["fit_s"]
        for name, model in script_models(s["stdout"]).items():
            row[f"script_fit_{name}_s"] = model["fit_s"]
        rows.append(row)
        shown = ", ".join(
            f"{side} {run['wall_s']:.1f}s (load {run['load_before']:.2f})"
            for side, run in runs.items()
        )
        print(
            f"{label} round {pair}: {shown}, ratio {row['ratio']:.3f}", file=sys.stderr, flush=True
        )
    return rows


def summarise(rows: list[dict], label: dict) -> dict:
    """Median (min-max) of every numeric column over the pairs."""
    out: dict = {**label, "pair": "median"}
    for key in rows[0]:
        values = [r[key] for r in rows if isinstance(r.get(key), int | float) and key != "pair"]
        if values and key not in label:
            out[key] = statistics.median(values)
            out[f"{key}_min"], out[f"{key}_max"] = min(values), max(values)
    return out
