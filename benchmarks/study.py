"""The whole study, one seed: `python -m unetexp -m +sweep=all seed=0` (12 distinct configs,
each trained once) against the plain Keras script training the study's 16 table rows one
after the other (what the study did), in pairs (`paired.py`).

    python benchmarks/study.py [--pairs 3] [--epochs 3] [--data FILE.npz]
                               [--extra "OVERRIDES"] [--csv F]

The framework side runs with the launcher that suits a 2-core machine by default: joblib, 2
workers of 1 TensorFlow thread each (`--extra ""` runs it one job at a time). Goal: framework
/ script <= 0.6.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from common import REAL_DATA, ROOT, print_table
from paired import pair_rows, summarise

TWO_CORES = "hydra/launcher=joblib hydra.launcher.n_jobs=2 train.intra_op_threads=1 train.inter_op_threads=1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--data", default=str(REAL_DATA))
    parser.add_argument("--extra", default=TWO_CORES, help="framework overrides: a launcher")
    parser.add_argument("--csv")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="unetexp-study-"))
    script = [
        sys.executable,
        str(ROOT / "benchmarks" / "plain_keras.py"),
        args.data,
        "--rows",
        "study",
        "--epochs",
        str(args.epochs),
    ]

    def framework(pair: int) -> tuple[list[str], Path]:
        store = folder / f"mlflow{pair}.db"
        command = [
            sys.executable,
            "-m",
            "unetexp",
            "-m",
            "+sweep=all",
            "seed=0",
            "data=npz",
            f"data.path={args.data}",
            f"train.epochs={args.epochs}",
            f"tracking.uri=sqlite:///{store}",
            f"hydra.sweep.dir={folder / f'multirun{pair}'}",
            *args.extra.split(),
        ]
        return command, store

    label = {"epochs": args.epochs, "launcher": args.extra or "basic"}
    rows = pair_rows(framework, script, args.pairs, folder, label)
    print_table([*rows, summarise(rows, label)], args.csv)


if __name__ == "__main__":
    main()
