"""`unetexp search`: the command line of the Optuna search (`unetexp.search` runs it)."""

from __future__ import annotations

import logging
import os
import sys

from unetexp.commands.base import Parser, sigterm_as_interrupt
from unetexp.errors import UnetexpError, exit_with_error


def parser() -> Parser:
    p = Parser(
        prog="unetexp search",
        description=(
            "Optuna search over loss.alpha (bce_dice) and train.lr; each trial an MLflow child run, "
            "objective: last-epoch val_dice on a validation split separate from test; the best trial "
            "is tagged on the parent run (best_run_id, best_value, best_params). The same command "
            "resumes an interrupted search."
        ),
    )
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="OVERRIDE",
        help="Hydra overrides of the base config, as for training (data=synthetic "
        "train.epochs=5 ...); loss=bce_dice and data.val_fraction=0.2 unless set",
    )
    p.add_argument(
        "--trials",
        type=int,
        default=20,
        help="completed trials the study should hold (default 20); a resumed search "
        "runs only the missing ones",
    )
    p.add_argument(
        "--alpha",
        nargs=2,
        type=float,
        default=(0.0, 1.0),
        metavar=("LOW", "HIGH"),
        help="range of loss.alpha, the bce weight (default 0 1)",
    )
    p.add_argument(
        "--lr",
        nargs=2,
        type=float,
        default=(1e-4, 1e-2),
        metavar=("LOW", "HIGH"),
        help="range of train.lr, sampled log-uniformly (default 1e-4 1e-2)",
    )
    p.add_argument(
        "--study",
        help="Optuna study name (default: derived from the base config and "
        "the ranges, so that the same command resumes its study)",
    )
    p.add_argument(
        "--storage",
        help="Optuna storage URL (default: sqlite optuna.db beside the "
        "MLflow SQLite file, else <project>/mlruns/optuna.db)",
    )
    p.add_argument("--sampler-seed", type=int, default=0, help="seed of the TPE sampler (0)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="[%(asctime)s] %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # retracing notes: a model per trial
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from unetexp.search import OBJECTIVE, search

    sigterm_as_interrupt()
    try:
        best = search(args)
    except UnetexpError as exc:
        exit_with_error(exc)
    except KeyboardInterrupt:
        print(
            "unetexp: interrupted, run marked KILLED; the same command resumes the search",
            file=sys.stderr,
        )
        return 130
    params = ", ".join(f"{k}={v:.4g}" for k, v in best["best_params"].items())
    print(
        f"search {best['study']}: best trial {best['best_trial']}, {OBJECTIVE} "
        f"{best['best_value']:.4f} ({params}), run {best['best_run_id']}; "
        f"parent run {best['parent_run_id']}"
    )
    return 0
