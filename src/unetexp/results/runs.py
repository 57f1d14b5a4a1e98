"""MLflow runs as pandas tables: one row per run, or one per config over seeds. No TensorFlow."""

from __future__ import annotations

import math

import pandas as pd

from unetexp.config.schema import factors
from unetexp.errors import UnetexpError
from unetexp.results import provenance
from unetexp.tracking import sqlite_store
from unetexp.tracking.store import connect, resolve_uri

# what a row of a table varies (from the schema); the seed is kept apart: aggregates go over it
FACTORS = factors()
LEADING = ["run_id", "sweep", "seed"]
PRUNED = "pruned_at_epoch"  # a search's pruned trial (tuning.trial.PRUNED_TAG)
SUMMARY = ["n_params", "train_time_s", "epochs_run"]


def all_runs(uri: str | None, experiment: str) -> list:
    """Every run of the experiment: straight from SQLite when the store is local and of a
    tested schema (fast, no mlflow import), else through mlflow."""
    uri = resolve_uri(uri)
    if sqlite_store.db_path(uri):
        try:
            return sqlite_store.read_runs(uri, experiment)
        except sqlite_store.UnknownSchema:  # another MLflow's schema: its own reader knows it
            pass
    import mlflow

    experiment_id = connect(uri, experiment)
    return mlflow.MlflowClient().search_runs([experiment_id], max_results=50000)


def sweep_parents(runs: list, sweep: str) -> list:
    """Parent runs of every multirun of a sweep, oldest first."""
    parents = [
        r for r in runs if r.data.tags.get("role") == "sweep" and r.data.tags.get("sweep") == sweep
    ]
    return sorted(parents, key=lambda r: r.info.start_time or 0)


def report_parent(parents: list):
    """The parent run a sweep's report is logged to: the latest FINISHED one (a later sweep
    killed half-way does not take the report), else the latest; None without parents."""
    finished = [r for r in parents if r.info.status == "FINISHED"]
    return (finished or parents or [None])[-1]


def runs_of_sweep(runs: list, parent_run_id: str) -> list:
    """The job runs of one multirun: its children and the FINISHED runs it reused."""
    by_id = {run.info.run_id: run for run in runs}
    if parent_run_id not in by_id:
        raise UnetexpError(f"no run {parent_run_id} in this experiment")
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent_run_id]
    reused = [
        by_id[v]
        for k, v in sorted(by_id[parent_run_id].data.tags.items())
        if k.startswith("reused.") and v in by_id
    ]
    return children + reused


def load_runs(
    uri: str | None = None,
    experiment: str = "unetexp",
    parent: str | None = None,
    sweep: str | None = None,
    pruned: bool = False,
) -> pd.DataFrame:
    """FINISHED job runs of an experiment, of one parent run, or of every parent tagged with a
    sweep name, as one row per run (latest run per config and data when a config was retrained).
    With `pruned`, a search's pruned trials too (KILLED, `pruned_at_epoch`: a column of theirs,
    their test metrics empty)."""
    everything = all_runs(uri, experiment)
    if parent or sweep:
        parents = (
            [parent] if parent else [r.info.run_id for r in sweep_parents(everything, str(sweep))]
        )
        if not parents:
            raise UnetexpError(f"no sweep named {sweep!r} in experiment {experiment!r}")
        runs = [run for p in parents for run in runs_of_sweep(everything, p)]
    else:
        runs = [r for r in everything if r.data.tags.get("role") == "job"]
    rows = {}
    for run in sorted(runs, key=lambda r: r.info.start_time or 0):
        stopped = pruned and run.info.status == "KILLED" and PRUNED in run.data.tags
        if run.info.status == "FINISHED" or stopped:
            tags = run.data.tags  # a config retrained on other data is another row
            row = _row(run)
            if stopped:  # it ran that many epochs
                row[PRUNED] = row["epochs_run"] = int(tags[PRUNED])
            rows[(tags.get("config_hash", run.info.run_id), tags.get("data_sha256"))] = row
    if not rows:
        where = f"parent run {parent}" if parent else f"sweep {sweep!r}" if sweep else "it"
        raise UnetexpError(f"experiment {experiment!r}: no FINISHED job run in {where}")
    return order_columns(pd.DataFrame(list(rows.values())))


def _row(run) -> dict:
    params, metrics = run.data.params, run.data.metrics
    row = {
        "run_id": run.info.run_id,
        "sweep": _sweep(params),
        "seed": params.get("seed"),
        "run_name": run.info.run_name,
        "config_hash": run.data.tags.get("config_hash", ""),
        "git_commit": run.data.tags.get("git_commit", ""),
    }
    row.update({k: params.get(k) for k in FACTORS})
    row.update({k: metrics.get(k) for k in SUMMARY})
    row.update({k: v for k, v in metrics.items() if k.startswith(("test_", "floor_"))})
    tags = run.data.tags
    row.update(
        {
            "data_source": tags.get("data_source", ""),
            "data_sha256": tags.get("data_sha256", ""),
            "data_count": tags.get("data_count") or _count_from_splits(params),
        }
    )
    return row


def _sweep(params: dict) -> str:
    """The sweep file a run came from; empty for a plain `-m` multirun (runs logged before
    params left out `None` values carry the string `None`)."""
    sweep = params.get("tracking.sweep")
    return "" if sweep in (None, "None") else sweep


def _count_from_splits(params: dict) -> int | None:
    """Images in the data file, for runs logged before the data_count tag existed."""
    try:
        sizes = [int(params["data.n_train"]), int(params["data.n_test"])]
        if float(params.get("data.val_fraction", 0)) > 0:
            sizes.append(int(params["data.n_val"]))
    except (KeyError, ValueError):
        return None
    return sum(sizes)


def order_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Typed columns in a stable order: ids, factors, summary, test metrics, floors, hashes."""
    df = df.copy()
    for column in df.columns:
        if column not in (
            "run_id",
            "config_hash",
            "run_name",
            "data_sha256",
            "data_source",
            "git_commit",
        ):
            try:
                df[column] = pd.to_numeric(df[column])
            except (ValueError, TypeError):
                pass
    for column in ("n_params", "epochs_run"):
        if column in df.columns and df[column].notna().all():
            df[column] = df[column].round().astype(int)
        elif column in df.columns:  # a pruned trial's n_params: never logged
            df[column] = df[column].round().astype("Int64")
    if PRUNED in df.columns:  # empty for the trials that ran to their end
        df[PRUNED] = df[PRUNED].astype("Int64")
    first = [c for c in LEADING + [PRUNED] + FACTORS + SUMMARY if c in df.columns]
    tests = sorted(c for c in df.columns if c.startswith("test_"))
    floors = sorted(c for c in df.columns if c.startswith("floor_"))
    rest = [c for c in df.columns if c not in first + tests + floors]
    return df[first + tests + floors + rest]


def metric_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c in SUMMARY or c.startswith(("test_", "floor_"))]


def factor_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in FACTORS if c in df.columns]


def t_quantile(n: int) -> float:
    """Student t quantile for a two-sided 95 % interval with n - 1 degrees of freedom
    (scipy.special: a third of scipy.stats' import time)."""
    from scipy.special import stdtrit

    return float(stdtrit(n - 1, 0.975)) if n > 1 else math.nan


def aggregate(df: pd.DataFrame) -> pd.DataFrame:
    """One row per config over seeds: n, then mean, std and 95 % CI half-width per metric."""
    factors = factor_columns(df)
    rows = []
    for key, group in df.groupby(factors, dropna=False, sort=True):
        row = dict(zip(factors, key if isinstance(key, tuple) else (key,), strict=False))
        row["sweep"] = ",".join(sorted({str(s) for s in group["sweep"]}))
        row["seeds"] = ",".join(str(s) for s in sorted(group["seed"]))
        for column in provenance.COLUMNS:
            if column in group.columns:
                row[column] = ",".join(sorted({str(v) for v in group[column].dropna() if str(v)}))
        row["n"] = len(group)
        for metric in metric_columns(df):
            values = group[metric].dropna()
            std = float(values.std(ddof=1)) if len(values) > 1 else math.nan
            row[f"{metric}_mean"] = float(values.mean()) if len(values) else math.nan
            row[f"{metric}_std"] = std
            row[f"{metric}_ci95"] = (
                t_quantile(len(values)) * std / math.sqrt(len(values))
                if len(values) > 1
                else math.nan
            )
        rows.append(row)
    return pd.DataFrame(rows)


def only_changed(df: pd.DataFrame) -> pd.DataFrame:
    """Drop the factor columns that hold one value: the table shows what the sweep varies."""
    constant = [c for c in factor_columns(df) if df[c].nunique(dropna=False) <= 1]
    return df.drop(columns=constant)


def load_from_args(args, pruned: bool = False) -> pd.DataFrame:
    runs = load_runs(
        args.tracking_uri, args.experiment, parent=args.parent, sweep=args.sweep, pruned=pruned
    )
    return provenance.select(runs, args.data)
