"""Framework overhead: table 1 trained by `python -m unetexp -m` and by the plain Keras script
(`plain_keras.py`, nothing of unetexp), in pairs (`paired.py`).

    python benchmarks/overhead.py [--pairs 5] [--epochs 3,10] [--depths 1,2,3,4,5]
                                  [--data FILE.npz] [--extra "OVERRIDES"] [--csv overhead.csv]

Both sides train the same models on the same file: by default the 714 real photographs
(../shared/data/pets_real_64.npz). The framework side is `python -m unetexp -m
model.depth=... data=npz data.path=... train.epochs=N` into a fresh MLflow store per run, as
a user's first sweep. Per epoch count: one row per pair (wall, CPU, peak memory, load before,
each depth's fit seconds on both sides and the framework's seconds outside fit), then the
medians with their ranges. `--before OLD/src` adds an older checkout's framework to each
round (framework, before, script), for before/after figures measured alike. Targets: ratio <= 1.03 at 3 epochs, <= 1.01 at 10; peak memory
within 15 %.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
from pathlib import Path

from common import REAL_DATA, ROOT, print_table
from paired import pair_rows, summarise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--epochs", default="3,10", help="epoch counts, comma separated")
    parser.add_argument("--depths", default="1,2,3,4,5")
    parser.add_argument("--data", default=str(REAL_DATA))
    parser.add_argument("--extra", default="", help="more framework overrides")
    parser.add_argument(
        "--before",
        help="an older checkout's src/ (PYTHONPATH): its framework runs in each round too",
    )
    parser.add_argument("--csv")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="unetexp-overhead-"))
    rows = []
    for epochs in [int(e) for e in args.epochs.split(",")]:
        script = [
            sys.executable,
            str(ROOT / "benchmarks" / "plain_keras.py"),
            args.data,
            "--depths",
            args.depths,
            "--epochs",
            str(epochs),
        ]

        def framework(
            pair: int, epochs: int = epochs, side: str = "now", src: str | None = None
        ) -> tuple[list[str], Path]:
            store = folder / f"mlflow_{side}_e{epochs}_{pair}.db"
            command = [
                *(["env", f"PYTHONPATH={src}"] if src else []),
                sys.executable,
                "-m",
                "unetexp",
                "-m",
                f"model.depth={args.depths}",
                "data=npz",
                f"data.path={args.data}",
                f"train.epochs={epochs}",
                f"tracking.uri=sqlite:///{store}",
                f"hydra.sweep.dir={folder / f'multirun_{side}_e{epochs}_{pair}'}",
                *args.extra.split(),
            ]
            return command, store

        label = {"epochs": epochs}
        before = (
            functools.partial(framework, epochs=epochs, side="before", src=args.before)
            if args.before
            else None
        )
        pairs = pair_rows(framework, script, args.pairs, folder, label, before)
        rows += [*pairs, summarise(pairs, label)]
    print_table(rows, args.csv)


if __name__ == "__main__":
    main()
