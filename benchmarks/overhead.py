"""Framework overhead: table 1 trained by unetexp vs by a bare Keras script, alternating.

    python benchmarks/overhead.py [--repeats 3] [--epochs 1,3,10] [--depths 1,2,3,4,5]
                                  [--data FILE.npz] [--csv overhead.csv]

Both sides train the same models on the same file, whole processes timed (imports included):
by default the 714 real photographs (../shared/data/pets_real_64.npz), else a study-shaped
synthetic file (738 x 64x64; timing does not depend on content). The framework side is
`python -m unetexp -m model.depth=... data=npz ... train.epochs=N` into a fresh MLflow store,
as a user's first sweep. Per epoch count, the two sides alternate `--repeats` times; the ratio
framework / bare is reported per repeat and as the median. Targets: <= 1.03 at 3 epochs,
<= 1.02 at 10.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from common import REAL_DATA, ROOT, print_table, study_shaped_npz, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", default="3,10", help="epoch counts, comma separated")
    parser.add_argument("--depths", default="1,2,3,4,5")
    parser.add_argument("--data", default=str(REAL_DATA) if REAL_DATA.is_file() else None)
    parser.add_argument("--count", type=int, default=738, help="synthetic images without --data")
    parser.add_argument("--csv")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="unetexp-overhead-"))
    data = Path(args.data) if args.data else study_shaped_npz(folder, args.count)
    rows = []
    for epochs in [int(e) for e in args.epochs.split(",")]:
        bare = [
            sys.executable,
            str(ROOT / "benchmarks" / "bare_keras.py"),
            str(data),
            "--depths",
            args.depths,
            "--epochs",
            str(epochs),
        ]
        runs = []
        for repeat in range(args.repeats):
            store = f"sqlite:///{folder / f'mlflow_e{epochs}_{repeat}.db'}"
            framework = [
                sys.executable,
                "-m",
                "unetexp",
                "-m",
                f"model.depth={args.depths}",
                "data=npz",
                f"data.path={data}",
                f"train.epochs={epochs}",
                f"tracking.uri={store}",
                f"hydra.sweep.dir={folder / 'multirun'}",
            ]
            bare_s = timed(bare, cwd=folder)
            framework_s = timed(framework, cwd=folder)
            runs.append(
                {
                    "epochs": epochs,
                    "repeat": repeat,
                    "bare_s": bare_s,
                    "framework_s": framework_s,
                    "ratio": framework_s / bare_s,
                }
            )
            print(
                f"{epochs} epochs, repeat {repeat}: bare {bare_s:.1f}s, framework "
                f"{framework_s:.1f}s",
                file=sys.stderr,
            )
        rows += runs + [
            {
                "epochs": epochs,
                "repeat": "median",
                "bare_s": statistics.median(r["bare_s"] for r in runs),
                "framework_s": statistics.median(r["framework_s"] for r in runs),
                "ratio": statistics.median(r["ratio"] for r in runs),
            }
        ]
    print(f"data: {data}", file=sys.stderr)
    print_table(rows, args.csv)


if __name__ == "__main__":
    main()
