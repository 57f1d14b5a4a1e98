"""Keras backends on this machine: table 1 through unetexp on TensorFlow and on JAX, alternating.

    python benchmarks/backends.py [--repeats 3] [--epochs 3] [--depths 1,2,3,4,5]
                                  [--backends tensorflow,jax] [--csv backends.csv] [OVERRIDE ...]

Each repeat runs `python -m unetexp -m model.depth=... train.epochs=N train.backend=B` once per
backend, in turn, each into a fresh MLflow store, on the real photographs (`data=pets_real`,
the default; OVERRIDEs such as `data=synthetic data.size=16` replace it for a quick check).
Reported per backend and depth: the median over repeats of each job's fit seconds
(`train_time_s`, what the issue's figures time), and of the whole command's wall seconds
(imports, tracing and logging included). Needs a quiet machine: other work skews both sides.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from common import ROOT, print_table, timed


def fit_seconds(store: str) -> dict[int, float]:
    """train_time_s of each depth's run in the store."""
    import mlflow

    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["unetexp"], filter_string="tags.role = 'job'")
    return {int(r["params.model.depth"]): r["metrics.train_time_s"] for _, r in runs.iterrows()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--depths", default="1,2,3,4,5")
    parser.add_argument("--backends", default="tensorflow,jax")
    parser.add_argument("--csv")
    parser.add_argument("overrides", nargs="*", help="more Hydra overrides for every run")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="unetexp-backends-"))
    backends = args.backends.split(",")
    walls: dict[str, list[float]] = {b: [] for b in backends}
    fits: dict[str, list[dict[int, float]]] = {b: [] for b in backends}
    for repeat in range(args.repeats):
        for backend in backends:  # alternated: drift in the machine's load hits both sides
            store = f"sqlite:///{folder / f'{backend}_{repeat}' / 'mlflow.db'}"
            command = [
                sys.executable,
                "-m",
                "unetexp",
                "-m",
                f"model.depth={args.depths}",
                f"train.epochs={args.epochs}",
                f"train.backend={backend}",
                f"tracking.uri={store}",
                *args.overrides,
            ]
            walls[backend].append(timed(command, cwd=ROOT))
            fits[backend].append(fit_seconds(store))
            print(f"repeat {repeat + 1} {backend}: {walls[backend][-1]:.1f} s", file=sys.stderr)
    rows = []
    for backend in backends:
        row: dict = {"backend": backend}
        for depth in (int(d) for d in args.depths.split(",")):
            row[f"fit_d{depth}_s"] = statistics.median(f[depth] for f in fits[backend])
        row["wall_s"] = statistics.median(walls[backend])
        row["wall_min_s"], row["wall_max_s"] = min(walls[backend]), max(walls[backend])
        rows.append(row)
    print_table(rows, args.csv)


if __name__ == "__main__":
    main()
