"""Peak resident memory of each job of a sequential 5-job multirun: it must not grow job
after job (Keras sessions are cleared between jobs).

    python benchmarks/memory.py [--epochs 2] [--sweep model.depth=1,2,3,4,5] [--csv memory.csv]

`--sweep seed=0,1,2,3,4` repeats one config (depth 3): growth there is a leak, not the
models getting bigger. `--sweep model.depth=1,2,3,4,5,1,2,3,4,5 --override force=true` runs
the table twice: whether the second round stays at the first round's level.

Samples the multirun process's VmRSS every 0.1 s (Linux /proc) and splits the samples at
each job's start line.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import print_table, study_shaped_npz


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--sweep", default="model.depth=1,2,3,4,5", help="the swept override")
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        help="more overrides, e.g. force=true to retrain a repeated config",
    )
    parser.add_argument("--csv")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="unetexp-memory-"))
    data = study_shaped_npz(folder)
    cmd = [
        sys.executable,
        "-m",
        "unetexp",
        "-m",
        args.sweep,
        "data=npz",
        f"data.path={data}",
        f"train.epochs={args.epochs}",
        f"tracking.uri=sqlite:///{folder / 'mlflow.db'}",
        *args.override,
    ]
    proc = subprocess.Popen(
        cmd, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    job, peaks, done = [None], {}, threading.Event()

    def sample():
        while not done.is_set():
            value = rss_mb(proc.pid)
            if value is not None and job[0] is not None:
                peaks[job[0]] = max(peaks.get(job[0], 0.0), value)
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    for line in proc.stdout:
        found = re.search(r"#(\d+) : ", line)
        if found:
            job[0] = int(found.group(1))
    proc.wait()
    done.set()
    if proc.returncode != 0:
        sys.exit(f"multirun failed with {proc.returncode}")
    key, values = args.sweep.split("=", 1)
    rows = [{"job": j, key: values.split(",")[j], "peak_rss_mb": peaks[j]} for j in sorted(peaks)]
    print_table(rows, args.csv)
    growth = rows[-1]["peak_rss_mb"] - rows[0]["peak_rss_mb"]
    print(f"last job - first job: {growth:+.0f} MB")


if __name__ == "__main__":
    main()
