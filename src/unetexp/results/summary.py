"""A sweep's summary for its parent run, so that the parent's row in the runs table says what
the sweep varied and what it found: params (the swept factors' values and the fixed ones),
per config the mean and std over seeds of the test metrics, the best config."""

from __future__ import annotations

import re

from unetexp.errors import UnetexpError
from unetexp.results.runs import aggregate, all_runs, factor_columns, load_runs, runs_of_sweep

SUMMARISED = ("test_accuracy", "test_dice")
PARAM_CHARS = 6000  # MLflow's longest param value


def seedless(run_name: str) -> str:
    """A run's name without its leading seed word: `s0 d3 c1 ...` -> `d3 c1 ...`."""
    return re.sub(r"^s\d+ ", "", str(run_name))


def metric_key(label: str, metric: str) -> str:
    """`<config>.<metric>` within MLflow's key rules (letters, digits, _ - . / and spaces)."""
    return re.sub(r"[^\w\-. /]", "_", f"{label}.{metric}")[:250]


def summary_params(runs: list) -> dict[str, str]:
    """Every param of the sweep's job runs: its value when fixed, its values (sorted, comma
    separated) when swept; `swept` lists the swept keys."""
    keys = sorted({key for run in runs for key in run.data.params})
    values = {key: sorted({str(run.data.params.get(key)) for run in runs}) for key in keys}
    params = {key: ",".join(found)[:PARAM_CHARS] for key, found in values.items()}
    params["swept"] = ",".join(key for key, found in values.items() if len(found) > 1)[:PARAM_CHARS]
    return params


def summary_metrics(df) -> tuple[dict[str, float], dict[str, str]]:
    """Per config (its runs' name without the seed), mean and std over seeds of the test
    metrics; `best_test_dice` and the `best_config` tag."""
    metrics, best = {}, None
    for _, group in df.groupby(factor_columns(df), dropna=False, sort=True):
        label = seedless(group["run_name"].iloc[0])
        row = aggregate(group).iloc[0]
        for metric in SUMMARISED:
            metrics[metric_key(label, f"{metric}_mean")] = float(row[f"{metric}_mean"])
            if row["n"] > 1:
                metrics[metric_key(label, f"{metric}_std")] = float(row[f"{metric}_std"])
        if best is None or row["test_dice_mean"] > best[1]:
            best = (label, float(row["test_dice_mean"]))
    metrics["best_test_dice"] = best[1]
    return metrics, {"best_config": best[0]}


def sweep_summary(uri: str | None, experiment: str, parent_run_id: str) -> tuple[dict, dict, dict]:
    """(params, metrics, tags) for a sweep's parent; empty when no job run FINISHED."""
    runs = runs_of_sweep(all_runs(uri, experiment), parent_run_id)
    try:
        df = load_runs(uri, experiment, parent=parent_run_id)
    except UnetexpError:
        return {}, {}, {}
    metrics, tags = summary_metrics(df)
    return summary_params([r for r in runs if r.info.status == "FINISHED"]), metrics, tags
