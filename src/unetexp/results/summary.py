"""A sweep's summary for its parent run, apart from the jobs' own keys: params (the swept
factors' values and the fixed ones), one table `sweep_summary.csv` (per config: runs, mean and
std over seeds of the test metrics, and of the validation Dice when there is a validation
split), a few `summary/` metrics, the best config as a tag, and a description.

Runs logged before kept the summary as per-config metrics (`<config>.test_dice_mean`); nothing
reads those, so they stay as they are."""

from __future__ import annotations

import math
import re

import pandas as pd

from unetexp.errors import UnetexpError
from unetexp.results.runs import aggregate, all_runs, factor_columns, load_runs, runs_of_sweep

SUMMARISED = ("test_accuracy", "test_dice")
PARAM_CHARS = 6000  # MLflow's longest param value
TABLE = "sweep_summary.csv"


def seedless(run_name: str) -> str:
    """A run's name without its leading seed word: `s0 d3 c1 ...` -> `d3 c1 ...`."""
    return re.sub(r"^s\d+ ", "", str(run_name))


def summary_params(runs: list) -> dict[str, str]:
    """Every param of the sweep's job runs: its value when fixed, its values (sorted, comma
    separated) when swept; `swept` lists the swept keys."""
    keys = sorted({key for run in runs for key in run.data.params})
    values = {key: sorted({str(run.data.params.get(key)) for run in runs}) for key in keys}
    params = {key: ",".join(found)[:PARAM_CHARS] for key, found in values.items()}
    params["swept"] = ",".join(key for key, found in values.items() if len(found) > 1)[:PARAM_CHARS]
    return params


def has_validation_split(runs: list) -> bool:
    """Whether every job validated on a split of its own (`data.val_fraction` > 0), not on
    the test split: only then may the best config be chosen by validation Dice."""
    fractions = [run.data.params.get("data.val_fraction") for run in runs]
    return bool(fractions) and all(f is not None and float(f) > 0 for f in fractions)


def summary_table(df: pd.DataFrame, val_dice: dict[str, float] | None) -> pd.DataFrame:
    """One row per config (its runs' name without the seed), best first: runs, seeds, mean
    and std over seeds of the test metrics (and of `val_dice`, the last epoch's, when given)."""
    rows = []
    for _, group in df.groupby(factor_columns(df), dropna=False, sort=True):
        stats = aggregate(group).iloc[0]
        row = {"config": seedless(group["run_name"].iloc[0]), "n": int(stats["n"])}
        row["seeds"] = stats["seeds"]
        if val_dice is not None:
            values = group["run_id"].map(val_dice).dropna()
            row["val_dice_mean"] = float(values.mean()) if len(values) else math.nan
            row["val_dice_std"] = float(values.std(ddof=1)) if len(values) > 1 else math.nan
        for metric in SUMMARISED:
            row[f"{metric}_mean"] = float(stats[f"{metric}_mean"])
            row[f"{metric}_std"] = float(stats[f"{metric}_std"])
        rows.append(row)
    by = "val_dice_mean" if val_dice is not None else "test_dice_mean"
    return pd.DataFrame(rows).sort_values(by, ascending=False, kind="stable").round(4)


def summary_metrics(table: pd.DataFrame, validated: bool) -> tuple[dict[str, float], dict]:
    """The parent's `summary/` metrics and its best-config tag: `best_config` chosen by
    validation Dice, or `best_config_by_test_dice` when the test split was the validation
    split (a choice made on the test split, named for what it is)."""
    best = table.iloc[0]
    metrics = {
        "summary/configs": float(len(table)),
        "summary/runs": float(table["n"].sum()),
        "summary/best_test_dice": float(best["test_dice_mean"]),
        "summary/best_test_accuracy": float(best["test_accuracy_mean"]),
    }
    if validated:
        metrics["summary/best_val_dice"] = float(best["val_dice_mean"])
    return metrics, {"best_config" if validated else "best_config_by_test_dice": best["config"]}


def description(table: pd.DataFrame, validated: bool, run_id: str) -> str:
    """The parent run's Description: what the sweep found, where its table and report are."""
    best = table.iloc[0]
    chosen = (
        f"by validation Dice ({best['val_dice_mean'] * 100:.1f} %)"
        if validated
        else "by test Dice: the test split was also the validation split, so this choice "
        "is made on the test images"
    )
    return "\n\n".join(
        [
            f"**Sweep of {len(table)} config(s), {int(table['n'].sum())} run(s)**; "
            "its job runs are nested below this run.",
            f"Best config {chosen}: **{best['config']}**, test Dice "
            f"{best['test_dice_mean'] * 100:.1f} %, test accuracy "
            f"{best['test_accuracy_mean'] * 100:.1f} % (mean over {int(best['n'])} seed(s)).",
            f"Every config: the artifact {TABLE} (mean and std over seeds).",
            f"The report with the study's verdicts, once `unetexp report --parent {run_id}` "
            "ran: the artifact report/report.html.",
        ]
    )


def sweep_summary(uri: str | None, experiment: str, parent_run_id: str) -> tuple:
    """(params, metrics, tags, artifacts) for a sweep's parent; empty when no job FINISHED."""
    runs = runs_of_sweep(all_runs(uri, experiment), parent_run_id)
    try:
        df = load_runs(uri, experiment, parent=parent_run_id)
    except UnetexpError:
        return {}, {}, {}, {}
    finished = [r for r in runs if r.info.status == "FINISHED"]
    validated = has_validation_split(finished)
    val_dice = {r.info.run_id: r.data.metrics.get("val_dice") for r in finished}
    table = summary_table(df, val_dice if validated else None)
    metrics, tags = summary_metrics(table, validated)
    tags["mlflow.note.content"] = description(table, validated, parent_run_id)
    return summary_params(finished), metrics, tags, {TABLE: table.to_csv(index=False)}
