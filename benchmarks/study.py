"""The whole study, one seed: `python -m unetexp -m +sweep=all seed=0` (12 distinct configs)
against bare Keras training the study's 16 table rows one after the other (what the study did).

    python benchmarks/study.py [--repeats 1] [--epochs 10] [--data FILE.npz] [--csv F]

Both on the 714 real photographs by default, whole processes timed, alternating.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from common import REAL_DATA, ROOT, print_table, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--data", default=str(REAL_DATA))
    parser.add_argument(
        "--extra", default="", help="more overrides for the framework, e.g. a launcher"
    )
    parser.add_argument("--csv")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="unetexp-study-"))
    bare = [
        sys.executable,
        str(ROOT / "benchmarks" / "bare_keras.py"),
        args.data,
        "--rows",
        "study",
        "--epochs",
        str(args.epochs),
    ]
    rows = []
    for repeat in range(args.repeats):
        framework = [
            sys.executable,
            "-m",
            "unetexp",
            "-m",
            "+sweep=all",
            "seed=0",
            "data=npz",
            f"data.path={args.data}",
            f"train.epochs={args.epochs}",
            f"tracking.uri=sqlite:///{folder / f'mlflow{repeat}.db'}",
            f"hydra.sweep.dir={folder / 'multirun'}",
            *args.extra.split(),
        ]
        bare_s = timed(bare, cwd=folder)
        framework_s = timed(framework, cwd=folder)
        rows.append(
            {
                "repeat": repeat,
                "bare_16_rows_s": bare_s,
                "framework_12_configs_s": framework_s,
                "ratio": framework_s / bare_s,
            }
        )
        print(f"repeat {repeat}: bare {bare_s:.1f}s, framework {framework_s:.1f}s", file=sys.stderr)
    if len(rows) > 1:
        rows.append(
            {
                "repeat": "median",
                **{
                    k: statistics.median(r[k] for r in rows)
                    for k in ("bare_16_rows_s", "framework_12_configs_s", "ratio")
                },
            }
        )
    print_table(rows, args.csv)


if __name__ == "__main__":
    main()
