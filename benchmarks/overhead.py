"""Framework overhead: table 1 trained by unetexp vs by a bare Keras script, alternating.

    python benchmarks/overhead.py [--repeats 3] [--epochs 10] [--depths 1,2,3,4,5] [--csv overhead.csv]

Both sides train the same models on the same study-shaped file (738 x 64x64 synthetic:
timing does not depend on content), whole processes timed (imports included). The
framework side is `python -m unetexp -m model.depth=... data=npz ...` into a fresh MLflow
store. Target: framework / bare <= 1.05.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from common import ROOT, print_table, study_shaped_npz, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--depths", default="1,2,3,4,5")
    parser.add_argument("--count", type=int, default=738)
    parser.add_argument("--csv")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="unetexp-overhead-"))
    data = study_shaped_npz(folder, args.count)
    bare = [sys.executable, str(ROOT / "benchmarks" / "bare_keras.py"), str(data),
            "--depths", args.depths, "--epochs", str(args.epochs)]
    rows = []
    for repeat in range(args.repeats):
        store = f"sqlite:///{folder / f'mlflow{repeat}.db'}"
        framework = [sys.executable, "-m", "unetexp", "-m", f"model.depth={args.depths}", "data=npz",
                     f"data.path={data}", f"train.epochs={args.epochs}", f"tracking.uri={store}"]
        bare_s = timed(bare, cwd=folder)
        framework_s = timed(framework, cwd=folder)
        rows.append({"repeat": repeat, "bare_s": bare_s, "framework_s": framework_s,
                     "ratio": framework_s / bare_s})
        print(f"repeat {repeat}: bare {bare_s:.1f}s, framework {framework_s:.1f}s", file=sys.stderr)
    rows.append({"repeat": "median", "bare_s": statistics.median(r["bare_s"] for r in rows),
                 "framework_s": statistics.median(r["framework_s"] for r in rows),
                 "ratio": statistics.median(r["ratio"] for r in rows)})
    print_table(rows, args.csv)


if __name__ == "__main__":
    main()
