"""The study's tables, read from their sweep definitions, and its own numbers and conclusions
(sweeps/reference/). Statistics of the conclusions over seeds. No TensorFlow."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from unetexp.config.hashing import flatten
from unetexp.config.paths import sweeps_dir

TABLE_ORDER = ("depth", "convs", "upsample", "bottleneck", "loss")
# what the power columns of check_conclusions mean (compare and report print it)
POWER_NOTE = (
    "ci_low..ci_high: 95 % interval of diff; sd_diff: SD of the paired differences; "
    "seeds_for_diff / seeds_for_effect: seeds per config for 80 % power at the "
    "table's Bonferroni level (alpha / comparisons) to detect the observed diff / "
    "an effect of {effect:g}; verdict: significant after Holm, else 'equivalent' when "
    "the TOST interval lies inside +-{effect:g}, else undecided."
)
# what `compare` and `report` test the study's conclusions on
CONCLUSION_METRICS = ("test_accuracy", "test_dice")


@dataclass
class Table:
    name: str  # the sweep's name: depth, convs, ...
    factor: str  # the key it varies: model.depth, ...
    values: list  # in the study's row order
    base: dict  # the keys it fixes

    def select(self, df: pd.DataFrame) -> pd.DataFrame:
        """The rows of `df` that belong to this table (any sweep may have trained them)."""
        keep = pd.Series(True, index=df.index)
        for key, value in self.base.items():
            if key in df.columns:
                keep &= df[key].astype(str) == str(value)
        keep &= df[self.factor].astype(str).isin([str(v) for v in self.values])
        return df[keep]


@lru_cache(maxsize=1)
def tables() -> list[Table]:
    """Tables 1-5 as sweeps/<name>.yaml defines them."""
    out = []
    for name in TABLE_ORDER:
        node = OmegaConf.load(sweeps_dir() / f"{name}.yaml")
        assert isinstance(node, DictConfig)  # a sweep file is a mapping (conf/sweeps/)
        params = cast(dict[str, Any], OmegaConf.to_container(node.hydra.sweeper.params))
        ((factor, values),) = params.items()
        base = {k: v for k, v in flatten(node).items() if not k.startswith(("hydra.", "tracking."))}
        out.append(Table(name, factor, [_parse(v) for v in str(values).split(",")], base))
    return out


def _parse(value: str):
    try:
        return int(value)
    except ValueError:
        return value


def reference(name: str | None = None) -> pd.DataFrame:
    """The study's numbers: one table (`depth`, ...) or all five, one row per printed row."""
    names = [name] if name else list(TABLE_ORDER)
    frames = [pd.read_csv(sweeps_dir() / "reference" / f"{n}.csv").assign(sweep=n) for n in names]
    return pd.concat(frames, ignore_index=True)


def tables_without(metric: str) -> list[str]:
    """The tables for which the study printed no figure of `metric` (Dice: all but loss)."""
    return [name for name in TABLE_ORDER if reference(name)[metric].isna().all()]


def study_gap_note(metric: str, column: str) -> str:
    """One line on why `column` (the study's figure of `metric`) is blank on some rows."""
    missing = tables_without(metric)
    has = [name for name in TABLE_ORDER if name not in missing]
    return (
        f"{column} is blank for tables {', '.join(missing)}: the study printed {metric} only for "
        f"{', '.join(has) or 'none'}"
    )


def conclusions() -> pd.DataFrame:
    return pd.read_csv(sweeps_dir() / "reference" / "conclusions.csv", dtype=str)


def _two_sided_p(t: float, df: float) -> float:
    from scipy.special import stdtr  # Student t CDF; scipy.stats would triple the import time

    return float(2.0 * stdtr(df, -abs(t))) if df > 0 and not math.isnan(t) else math.nan


def paired_t(x, y) -> float:
    """p-value of the paired t-test (same as scipy.stats.ttest_rel)."""
    from unetexp.results.power import mean_zero_p  # scipy.special: loaded when a test runs

    return mean_zero_p([a - b for a, b in zip(x, y, strict=False)])


def welch_t(x, y) -> float:
    """p-value of Welch's t-test (same as scipy.stats.ttest_ind(equal_var=False))."""
    nx, ny = len(x), len(y)
    if min(nx, ny) < 2:
        return math.nan
    mx, my = sum(x) / nx, sum(y) / ny
    vx = sum((v - mx) ** 2 for v in x) / (nx - 1) / nx
    vy = sum((v - my) ** 2 for v in y) / (ny - 1) / ny
    if vx + vy == 0:
        return math.nan
    df = (vx + vy) ** 2 / (vx**2 / (nx - 1) + vy**2 / (ny - 1))
    return _two_sided_p((mx - my) / math.sqrt(vx + vy), df)


def difference_test(a: pd.DataFrame, b: pd.DataFrame, metric: str) -> dict:
    """Mean difference a - b and its p-value: paired by seed when both sides share at least two
    seeds (same split and initialisation), Welch's t-test otherwise. `sd_diff`: the SD of the
    paired differences, or for Welch that of a difference of two independent runs."""
    from unetexp.results.power import sd_of

    shared = sorted(set(a["seed"]) & set(b["seed"]))
    if len(shared) >= 2:
        x = a.set_index("seed").loc[shared, metric].to_numpy(float)
        y = b.set_index("seed").loc[shared, metric].to_numpy(float)
        return {
            "diff": float((x - y).mean()),
            "test": "paired t",
            "n": len(shared),
            "p": paired_t(x, y),
            "sd_diff": sd_of(list(x - y)),
        }
    x, y = a[metric].to_numpy(float), b[metric].to_numpy(float)
    sd = math.hypot(sd_of(list(x)), sd_of(list(y))) if min(len(x), len(y)) > 1 else math.nan
    return {
        "diff": float(x.mean() - y.mean()) if len(x) and len(y) else math.nan,
        "test": "Welch t",
        "n": min(len(x), len(y)),
        "p": welch_t(list(x), list(y)),
        "sd_diff": sd,
    }


def check_conclusions(
    runs: pd.DataFrame, metric: str = "test_accuracy", alpha: float = 0.05, effect: float = 0.01
) -> pd.DataFrame:
    """For each comparison behind the study's choices that `runs` (one row per run) covers:
    means, difference, test, p, Holm-adjusted p within the table, whether the difference
    is significant at `alpha` in the study's direction (a better than b where the study has no
    number for the metric), and its power columns (power.assess: interval, seeds needed for
    the difference and for `effect`, verdict)."""
    from unetexp.results.power import assess, holm

    by_name = {t.name: t for t in tables()}
    rows = []
    for sweep, group in conclusions().groupby("sweep", sort=False):
        table = by_name[sweep]
        selected = table.select(runs)
        table_rows, labels = [], []
        for _, c in group.iterrows():
            a = selected[selected[table.factor].astype(str) == c["a"]]
            b = selected[selected[table.factor].astype(str) == c["b"]]
            if a.empty or b.empty:
                continue
            ref = table.select(reference(sweep))
            ref_a = (
                ref[ref[table.factor].astype(str) == c["a"]][metric].mean()
                if metric in ref
                else math.nan
            )
            ref_b = (
                ref[ref[table.factor].astype(str) == c["b"]][metric].mean()
                if metric in ref
                else math.nan
            )
            table_rows.append(
                {
                    "table": sweep,
                    "comparison": f"{table.factor}: {c['a']} vs {c['b']}",
                    "main": c["main"] == "1",
                    "metric": metric,
                    "study_diff": ref_a - ref_b,
                    "mean_a": a[metric].mean(),
                    "mean_b": b[metric].mean(),
                    **difference_test(a, b, metric),
                }
            )
            labels.append((c["a"], c["b"]))
        for row, (a, b), adjusted in zip(
            table_rows, labels, holm([r["p"] for r in table_rows]), strict=False
        ):
            row["p_holm"] = adjusted
            direction = row["study_diff"] if not math.isnan(row["study_diff"]) else 1.0
            row["holds"] = bool(adjusted < alpha and row["diff"] * direction > 0)
            row.update(
                assess(
                    row["diff"],
                    row.pop("sd_diff"),
                    row["n"],
                    adjusted,
                    len(table_rows),
                    a,
                    b,
                    effect,
                    alpha,
                )
            )
        rows.extend(table_rows)
    return pd.DataFrame(rows)


def check_all_conclusions(
    runs: pd.DataFrame, effect: float = 0.01
) -> tuple[pd.DataFrame, list[str]]:
    """check_conclusions on every metric of CONCLUSION_METRICS, and the notes that explain
    its blank study_diff cells (a metric the study printed for some tables only)."""
    tests = pd.concat(
        [
            check_conclusions(runs, metric, effect=effect)
            for metric in CONCLUSION_METRICS
            if metric in runs.columns
        ],
        ignore_index=True,
    )
    notes = []
    if not tests.empty:
        for metric in tests.loc[tests["study_diff"].isna(), "metric"].unique():
            notes.append(
                study_gap_note(metric, f"study_diff of {metric}") + "; there `holds` means a is "
                "significantly better than b, the direction of the study's choice."
            )
    return tests, notes
