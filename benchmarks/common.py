"""Shared helpers of the benchmarks: a study-shaped data file, timed subprocesses, tables."""

from __future__ import annotations

import csv
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = ROOT.parent / "shared" / "data" / "pets_real_64.npz"  # the 714 real photographs


def study_shaped_npz(folder: Path, count: int = 738, size: int = 64) -> Path:
    """A synthetic file with the study's shape (738 x 64x64): timing does not depend on content."""
    from unetexp.data.synthetic import make_synthetic

    path = folder / f"synthetic_{count}x{size}.npz"
    if not path.exists():
        images, masks = make_synthetic(count, size)
        np.savez(path, images=(images * 255).astype(np.uint8), masks=masks[..., 0].astype(np.uint8))
    return path


def timed(cmd: list[str], cwd: Path | None = None, env: dict | None = None) -> float:
    """Wall time of a command, which must succeed."""
    start = time.perf_counter()
    out = subprocess.run(
        cmd, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(
            f"benchmark command failed ({out.returncode}): {' '.join(cmd)}\n{out.stderr[-2000:]}"
        )
    return elapsed


def summary(values: list[float]) -> dict:
    return {
        "n": len(values),
        "min": min(values),
        "median": statistics.median(values),
        "max": max(values),
    }


def print_table(rows: list[dict], csv_path: str | None = None) -> None:
    """A fixed-width table on stdout, and the same rows as CSV on request."""
    if not rows:
        return
    columns = list(dict.fromkeys(c for r in rows for c in r))  # every row's, in order
    rows = [{c: r.get(c, "") for c in columns} for r in rows]
    text = [
        [f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for c in columns] for r in rows
    ]
    widths = [max(len(c), *(len(t[i]) for t in text)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=False)))
    for t in text:
        print("  ".join(v.ljust(w) for v, w in zip(t, widths, strict=False)))
    if csv_path:
        with open(csv_path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
