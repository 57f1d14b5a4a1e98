"""Where each job's fixed cost goes: one in-process multirun with every phase timed.

    python benchmarks/phases.py [--epochs 1] [--depths 1,2,3,4,5] [--data FILE.npz] [--csv F]

Runs `python -m unetexp -m model.depth=... data=npz data.path=FILE train.epochs=N` in this
process (the real command, through Hydra), with the functions of each phase wrapped by a
timer that also reads the process's peak memory (VmHWM) around each call: a phase's
`peak_growth_mib` is how much it raised the process's peak. A phase's time is inclusive: `fit` holds the per-epoch logging and Keras's tracing
(the first epoch's extra time, which bare Keras pays too). What bare Keras does not do is
every phase marked `framework`; the table ends with their sum per job.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from common import REAL_DATA, print_table

CALLS: dict[str, list[float]] = defaultdict(list)
PEAK_GROWTH: dict[str, float] = defaultdict(float)  # MiB the phase's calls raised VmHWM by


def peak_mib() -> float:
    """This process's peak resident memory so far (Linux's VmHWM)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


# (module, attribute path, phase, whether bare Keras does it too)
PHASES = [
    ("unetexp.config.jobs", "check_command_line", "compose + validate every job up front", False),
    ("unetexp.tracking.parent", "start_sweep", "parent run", False),
    ("unetexp.experiment", "run_experiment", "job (whole)", None),
    ("unetexp.experiment", "validate", "validate", False),
    ("unetexp.experiment", "open_dataset", "load data", True),
    ("unetexp.experiment", "split", "split", True),
    ("unetexp.experiment", "data_identity", "data sha256", False),
    ("unetexp.experiment", "git_commit", "git commit", False),
    ("unetexp.experiment", "config_hash", "config hash", False),
    ("unetexp.tracking.job", "claim", "claim + start run", False),
    ("mlflow", "log_params", "log params", False),
    ("unetexp.experiment", "log_dataset", "dataset input", False),
    ("unetexp.training.fit", "set_threads", "threads", False),
    ("unetexp.training.fit", "seed_everything", "clear session, gc, seed", True),
    ("unetexp.training.fit", "build_from_config", "build model", True),
    ("unetexp.training.fit", "compile_model", "compile", True),
    ("unetexp.training.fit", "prepare_optimizer", "optimizer build", False),
    ("keras", "Model.fit", "fit (tracing and epochs)", True),
    ("unetexp.training.checkpoint", "Checkpoint.on_epoch_end", "checkpoint (in fit)", False),
    ("unetexp.tracking.job", "JobRun.log_epoch", "per-epoch logging (in fit)", False),
    ("keras", "Model.evaluate", "evaluate", True),
    ("keras", "Model.predict", "predict test set", False),
    ("unetexp.training.fit", "score", "score test set (one eager pass)", None),
    ("unetexp.training.fit", "pixel_report", "classification report", False),
    ("unetexp.results.artifacts", "write_run_files", "figures (2 PNGs)", False),
    ("unetexp.tracking.job", "JobRun.log_result", "log metrics + artifacts", False),
    ("mlflow", "end_run", "end run", False),
    ("unetexp.tracking.hydra_callback", "summarise", "sweep summary", False),
]


def wrap(module_name: str, path: str, phase: str) -> None:
    """Replace module.path with a timed version (a method: on its class)."""
    owner = importlib.import_module(module_name)
    *parents, name = path.split(".")
    for part in parents:
        owner = getattr(owner, part)
    original = getattr(owner, name, None)
    if original is None:  # an older checkout without this phase (benchmarking a baseline)
        return

    @functools.wraps(original)
    def timed(*args, **kwargs):
        start, peak = time.perf_counter(), peak_mib()
        try:
            return original(*args, **kwargs)
        finally:
            CALLS[phase].append(time.perf_counter() - start)
            PEAK_GROWTH[phase] += peak_mib() - peak

    setattr(owner, name, timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--depths", default="1,2,3,4,5")
    parser.add_argument("--data", default=str(REAL_DATA))
    parser.add_argument("--csv")
    args = parser.parse_args()
    start = time.perf_counter()
    for module_name, path, phase, _ in PHASES:
        wrap(module_name, path, phase)
    imports = time.perf_counter() - start  # TensorFlow, Keras, MLflow, Hydra (bare: TF, Keras)
    imported_peak = peak_mib()
    store = Path(tempfile.mkdtemp(prefix="unetexp-phases-")) / "mlflow.db"
    sys.argv = [
        "unetexp",
        "-m",
        f"model.depth={args.depths}",
        "data=npz",
        f"data.path={args.data}",
        f"train.epochs={args.epochs}",
        f"tracking.uri=sqlite:///{store}",
        f"hydra.sweep.dir={store.parent / 'multirun'}",
    ]
    from unetexp.commands.train import main as unetexp_main

    try:
        unetexp_main()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    wall = time.perf_counter() - start
    jobs = len(CALLS["job (whole)"])
    rows = [
        {
            "phase": "imports (TF, Keras, MLflow, Hydra)",
            "bare_too": "partly",
            "calls": 1,
            "total_s": imports,
            "per_job_s": imports / jobs,
            "peak_growth_mib": imported_peak,  # the phases below raise it from there
        }
    ]
    framework = 0.0
    for _, _, phase, bare in PHASES:
        times = CALLS.get(phase, [])
        if not times:
            continue
        total = sum(times)
        rows.append(
            {
                "phase": phase,
                "bare_too": {True: "yes", False: "no", None: "-"}[bare],
                "calls": len(times),
                "total_s": total,
                "per_job_s": total / jobs,
                "peak_growth_mib": PEAK_GROWTH[phase],
            }
        )
        if bare is False and phase != "per-epoch logging (in fit)":
            framework += total
    rows.append(
        {
            "phase": "framework-only phases (sum)",
            "bare_too": "no",
            "calls": jobs,
            "total_s": framework,
            "per_job_s": framework / jobs,
            "peak_growth_mib": "",
        }
    )
    rows.append(
        {
            "phase": "process (wall)",
            "bare_too": "-",
            "calls": 1,
            "total_s": wall,
            "per_job_s": wall / jobs,
            "peak_growth_mib": peak_mib(),  # the process's peak
        }
    )
    fit = CALLS.get("fit (tracing and epochs)", [])
    # nested phases (a job holds the others, fit holds the checkpoint) count in both
    print(
        f"{jobs} jobs, {args.epochs} epoch(s), {args.data}; fit median {statistics.median(fit):.2f}s",
        file=sys.stderr,
    )
    print_table(rows, args.csv)


if __name__ == "__main__":
    main()
