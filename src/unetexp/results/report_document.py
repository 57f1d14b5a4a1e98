"""What `unetexp report` writes: a sweep as the study printed it, plus mean +- std over
seeds, floor baselines, significance of the study's conclusions and plots, as Markdown, HTML
and PNG. Pandas; the figures are drawn by plots.py. No TensorFlow."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from unetexp.results import plots, provenance
from unetexp.results.figure_pool import FigurePool
from unetexp.results.runs import aggregate
from unetexp.results.settings import settings_note
from unetexp.results.study import (
    POWER_NOTE,
    Table,
    check_all_conclusions,
    reference,
    tables,
    tables_without,
)

LABELS = {
    "model.depth": "depth",
    "model.convs": "convs",
    "model.upsample": "upsampling",
    "model.bottleneck": "bottleneck",
    "loss.name": "loss",
}


def pm(mean: float, std: float, n: int, scale: float = 100.0, digits: int = 2) -> str:
    """'78.25 +- 0.41 (n=3)' in percent by default."""
    if n < 2 or math.isnan(std):
        return f"{mean * scale:.{digits}f} (n={n})"
    return f"{mean * scale:.{digits}f} +- {std * scale:.{digits}f} (n={n})"


def table_section(table: Table, agg: pd.DataFrame, study: pd.DataFrame) -> pd.DataFrame:
    """One row per value of the table's factor, in the study's order: ours next to the study's."""
    rows = []
    for value in table.values:
        ours = agg[agg[table.factor].astype(str) == str(value)]
        ref = study[study[table.factor].astype(str) == str(value)]
        if ours.empty:
            continue
        o = ours.iloc[0]
        row = {
            LABELS[table.factor]: value,
            "time (s)": f"{o['train_time_s_mean']:.2f}",
            "params": int(o["n_params_mean"]),
            "accuracy % (ours)": pm(o["test_accuracy_mean"], o["test_accuracy_std"], o["n"]),
            "accuracy % (study)": f"{ref['test_accuracy'].iloc[-1] * 100:.2f}" if len(ref) else "",
            "dice % (ours)": pm(o["test_dice_mean"], o["test_dice_std"], o["n"]),
        }
        if table.name == "loss":
            row["dice % (study)"] = f"{ref['test_dice'].iloc[-1] * 100:.2f}" if len(ref) else ""
        row["study time (s)"] = f"{ref['train_time_s'].iloc[-1]:.2f}" if len(ref) else ""
        rows.append(row)
    return pd.DataFrame(rows)


def table_spec(table: Table, agg: pd.DataFrame, study: pd.DataFrame, floors: dict) -> dict:
    """What plots.table_figure draws for one table, as plain lists (it crosses processes)."""
    values = [v for v in table.values if (agg[table.factor].astype(str) == str(v)).any()]
    sub = pd.concat([agg[agg[table.factor].astype(str) == str(v)] for v in values])
    low, high = int(sub["n"].min()), int(sub["n"].max())
    panels = []
    for metric, title, floor_key, floor_label in (
        (
            "test_accuracy",
            "pixel accuracy (%)",
            "floor_background_accuracy",
            "floor: predict all background",
        ),
        ("test_dice", "Dice (%)", "floor_object_dice", "floor: predict all object"),
    ):
        ref = [  # percent, as the tables print them
            100 * float(study[study[table.factor].astype(str) == str(v)][metric].mean())
            if metric in study
            else math.nan
            for v in values
        ]
        panels.append(
            {
                "title": title,
                "mean": (100 * sub[f"{metric}_mean"]).tolist(),
                "std": (100 * sub[f"{metric}_std"].fillna(0)).tolist(),
                "label": f"unetexp, mean +- std (n={low if low == high else f'{low}..{high}'})",
                "study": None if all(math.isnan(r) for r in ref) else ref,
                "floor": 100 * floors[floor_key] if floor_key in floors else None,
                "floor_label": floor_label,
            }
        )
    return {
        "title": f"Table {tables().index(table) + 1} - {table.name}",
        "xlabel": LABELS[table.factor],
        "xticks": [str(v) for v in values],
        "panels": panels,
    }


def cost_points(agg: pd.DataFrame) -> list[dict]:
    """What plots.cost_figure draws: one point per config of the sweep."""
    return [
        {
            "label": config_label(row),
            "n_params": float(row["n_params_mean"]),
            "time": float(row["train_time_s_mean"]),
            "time_std": _zero_nan(row["train_time_s_std"]),
            "accuracy": 100 * float(row["test_accuracy_mean"]),
            "accuracy_std": 100 * _zero_nan(row["test_accuracy_std"]),
        }
        for _, row in agg.iterrows()
    ]


IN_PERCENT = ("study_diff", "mean_a", "mean_b", "diff", "ci_low", "ci_high", "sd_diff")


def verdicts_first(tests: pd.DataFrame) -> pd.DataFrame:
    """The conclusions table as the report shows it: what holds next to what is compared (the
    viewer's width cuts the last columns), differences in points of percent."""
    first = ["table", "comparison", "main", "metric", "verdict", "holds", "diff", "p_holm"]
    out = tests[[c for c in first if c in tests] + [c for c in tests if c not in first]].copy()
    for column in IN_PERCENT:
        if column in out:
            out[column] = [f"{100 * v:.2f}" if pd.notna(v) else "" for v in out[column]]
    return out


def _zero_nan(value) -> float:
    return 0.0 if pd.isna(value) else float(value)


def config_label(row) -> str:
    up = "tr" if row["model.upsample"] == "transpose" else "up"
    return f"d{row['model.depth']} c{row['model.convs']} {up} b{row['model.bottleneck']} {row['loss.name']}"


def header(runs: pd.DataFrame, parent_id: str | None) -> list[str]:
    """Where the figures come from: data, parent run, code, date."""
    from unetexp.tracking.job import git_commit

    commits = sorted(
        {str(c)[:10] for c in runs.get("git_commit", pd.Series(dtype=str)).dropna() if c}
    )
    now = datetime.now(timezone.utc)
    note = settings_note(runs)
    return [
        *provenance.header(runs),
        *([note] if note else []),
        f"parent run: {parent_id}"
        if parent_id
        else "parent run: none (every job run of the experiment)",
        f"code: runs trained at git commit {', '.join(commits) or 'not recorded'}; this report "
        f"made at {(git_commit() or 'no git checkout')[:10]}",
        f"date: {now:%Y-%m-%d %H:%M} UTC",
    ]


def build(
    runs: pd.DataFrame,
    out: Path,
    title: str,
    figures: FigurePool,
    parent_id: str | None = None,
    effect: float = 0.01,
) -> tuple[list, list[Path]]:
    """The report's sections, and its PNGs drawn into `out` through `figures` (which may draw
    them in another process): `write` them once the figures are done."""
    provenance.require_one_source(runs)
    out.mkdir(parents=True, exist_ok=True)
    agg = aggregate(runs)
    floors = {c: float(runs[c].mean()) for c in runs.columns if c.startswith("floor_")}
    sections: list[tuple[str, object]] = [("h1", title)]
    sections += [("p", line) for line in header(runs, parent_id)]
    sections += [
        (
            "p",
            f"{len(runs)} runs, {len(agg)} configs, seeds {sorted(runs['seed'].unique().tolist())}, "
            f"{int(runs['train.epochs'].iloc[0])} epochs. Accuracy and Dice in percent on the "
            f"test split; mean +- standard deviation over seeds. The study's numbers are single "
            f"runs on its own machine and data split.",
        ),
    ]
    if floors:
        sections += [
            ("h2", "Floor baselines (same test splits)"),
            (
                "table",
                pd.DataFrame(
                    [
                        {
                            "all background: accuracy %": f"{floors.get('floor_background_accuracy', math.nan) * 100:.2f}",
                            "all object: accuracy %": f"{floors.get('floor_object_accuracy', math.nan) * 100:.2f}",
                            "all object: Dice %": f"{floors.get('floor_object_dice', math.nan) * 100:.2f}",
                        }
                    ]
                ),
            ),
        ]
    pngs = []
    for number, table in enumerate(tables(), start=1):
        selected = table.select(agg)
        if selected[table.factor].nunique() < 2:  # a table needs two of its rows to compare
            continue
        study = table.select(reference(table.name))
        png = out / f"table{number}_{table.name}.png"
        figures.draw(plots.table_figure, table_spec(table, selected, study, floors), png)
        pngs.append(png)
        sections += [
            ("h2", f"Table {number} - {table.name}"),
            ("table", table_section(table, selected, study)),
        ]
        if table.name in tables_without("test_dice"):
            sections.append(
                (
                    "p",
                    "Note: the study printed no Dice for this table (only for table 5, "
                    "loss): the Dice column and the Dice panel show ours alone.",
                )
            )
        sections.append(("img", png.name))
    if len(agg) > 1:
        png = out / "accuracy_vs_cost.png"
        figures.draw(plots.cost_figure, cost_points(agg), png)
        pngs.append(png)
        sections += [("h2", "Accuracy vs parameters and time"), ("img", png.name)]
    if agg["n"].max() > 1:
        tests, notes = check_all_conclusions(runs, effect)
        if not tests.empty:
            sections += [
                ("h2", "Which of the study's conclusions hold (p < 0.05, Holm per table)"),
                (
                    "p",
                    "In points of percent: diff = mean(a) - mean(b); paired t-test by seed "
                    "where both configs share seeds, Welch otherwise; `holds` = significant "
                    "after Holm and in the study's direction (the sign of study_diff). "
                    + POWER_NOTE.format(effect=effect * 100),
                ),
                ("table", verdicts_first(tests)),
                *(("p", f"Note: {note}") for note in notes),
            ]
    return sections, pngs
