"""How fast the commands that do not train answer, against importing Hydra alone.

    python benchmarks/startup.py [--repeats 5] [--csv startup.csv]

Each command runs `repeats` times in a fresh interpreter; the table gives min and median
wall time, and whether TensorFlow got imported (it must not).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from common import print_table, summary, timed

PY = sys.executable
CHECK = (
    "import sys, runpy; sys.argv = ['unetexp', *sys.argv[1:]]\n"
    "try:\n    runpy.run_module('unetexp', run_name='__main__')\nexcept SystemExit:\n    pass\n"
    "sys.stderr.write('TF' if 'tensorflow' in sys.modules else 'NOTF')"
)


def make_sweep(folder: Path) -> str:
    """A tiny finished sweep to export and report on."""
    store = f"sqlite:///{folder / 'mlflow.db'}"
    subprocess.run(
        [
            PY,
            "-m",
            "unetexp",
            "-m",
            "+sweep=depth",
            "model.depth=2,3",
            "seed=0,1",
            "data=synthetic",
            "data.count=24",
            "data.size=16",
            "train.epochs=1",
            f"tracking.uri={store}",
        ],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    return store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--csv")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="unetexp-startup-"))
    store = make_sweep(folder)
    commands = {
        "import hydra, omegaconf (floor)": [PY, "-c", "import hydra, omegaconf"],
        "python -m unetexp --help": [PY, "-m", "unetexp", "--help"],
        "python -m unetexp --cfg job": [PY, "-m", "unetexp", "--cfg", "job"],
        "unetexp export --help": [PY, "-m", "unetexp", "export", "--help"],
        "unetexp export (sweep)": [
            PY,
            "-m",
            "unetexp",
            "export",
            "--tracking-uri",
            store,
            "--sweep",
            "depth",
            "-o",
            str(folder / "x.csv"),
        ],
        "unetexp report (sweep)": [
            PY,
            "-m",
            "unetexp",
            "report",
            "--tracking-uri",
            store,
            "--sweep",
            "depth",
            "--no-log",
            "--out",
            str(folder / "report"),
        ],
    }
    rows = []
    for name, cmd in commands.items():
        times = [timed(cmd, cwd=folder) for _ in range(args.repeats)]
        tf = "-"
        if cmd[1] == "-m":
            out = subprocess.run(
                [PY, "-c", CHECK, *cmd[3:]], cwd=folder, capture_output=True, text=True
            )
            tf = "yes" if out.stderr.endswith("TF") and not out.stderr.endswith("NOTF") else "no"
        stats = summary(times)
        rows.append(
            {
                "command": name,
                "min_s": stats["min"],
                "median_s": stats["median"],
                "imports_tensorflow": tf,
            }
        )
    print_table(rows, args.csv)


if __name__ == "__main__":
    main()
