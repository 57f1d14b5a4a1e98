"""`unetexp compare A [B]`: two exports, or an export and the study, side by side per config,
and which of the study's conclusions hold over seeds."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from unetexp.commands.base import Parser
from unetexp.commands.outputs import check_file, write_csv
from unetexp.errors import UnetexpError, exit_with_error, first_line
from unetexp.results import provenance
from unetexp.results.markdown import markdown_table
from unetexp.results.runs import FACTORS, aggregate, factor_columns, order_columns
from unetexp.results.settings import settings_note
from unetexp.results.study import (
    CONCLUSION_METRICS,
    POWER_NOTE,
    TABLE_ORDER,
    check_all_conclusions,
    reference,
    study_gap_note,
)

SHOWN = ["n_params", "train_time_s", "test_accuracy", "test_dice"]


def is_study(source: str) -> bool:
    return source == "study" or source.startswith("study:")


def study_source() -> list[str]:
    return [
        "data B: the study's 738-image 1/10 subset of Oxford-IIIT Pet (real photographs, "
        "single unseeded runs on its own machine)"
    ]


def read_side(source: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(one row per config with metric means, one row per run or None) from a CSV path,
    `study` (all five reference tables) or `study:NAME`."""
    if is_study(source):
        name = source.partition(":")[2] or None
        if name and name not in TABLE_ORDER:
            raise UnetexpError(
                f"{source}: unknown table, use study or study:{{{','.join(TABLE_ORDER)}}}"
            )
        ref = reference(name)
        keys = [c for c in FACTORS if c in ref.columns]
        return ref.groupby(keys, as_index=False, sort=False).mean(numeric_only=True).assign(
            n=1
        ), None
    path = Path(source)
    if not path.is_file():
        raise UnetexpError(f"{path}: export file not found")
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise UnetexpError(f"{path}: not a CSV export ({first_line(exc)})") from None
    if not factor_columns(df):
        raise UnetexpError(f"{path}: no factor column (model.depth, ...): not a unetexp export")
    if "n" not in df.columns and "seed" not in df.columns:
        raise UnetexpError(f"{path}: neither a seed nor an n column: not a unetexp export")
    if "n" in df.columns:  # already aggregated: keep the means under the metric names
        means = {c: c[:-5] for c in df.columns if c.endswith("_mean")}
        return df.rename(columns=means), None
    runs = order_columns(df)
    agg = aggregate(runs)
    return agg.rename(columns={c: c[:-5] for c in agg.columns if c.endswith("_mean")}), runs


def side_by_side(a: pd.DataFrame, b: pd.DataFrame, only_changed: bool = False) -> pd.DataFrame:
    """Configs present in both, matched on the factors both know; A, B and A - B per metric."""
    keys = [c for c in FACTORS if c in a.columns and c in b.columns]
    if not keys:
        raise UnetexpError("the two tables share no factor column to match configs on")
    a, b = a.copy(), b.copy()
    for df in (a, b):
        for key in keys:
            df[key] = df[key].astype(str).str.replace(r"\.0$", "", regex=True)
    merged = a.merge(b, on=keys, suffixes=(" A", " B"))
    if merged.empty:
        raise UnetexpError("no config appears in both tables")
    out = merged[keys].copy()
    for metric in SHOWN:
        if f"{metric} A" in merged and f"{metric} B" in merged:
            out[f"{metric} A"] = merged[f"{metric} A"]
            out[f"{metric} B"] = merged[f"{metric} B"]
            out[f"{metric} delta"] = merged[f"{metric} A"] - merged[f"{metric} B"]
    if "n A" in merged:
        out.insert(len(keys), "n A", merged["n A"])
    if only_changed:
        out = out.drop(columns=[k for k in keys if out[k].nunique() <= 1])
    return out


def study_gaps(table: pd.DataFrame, study_labels: list[str]) -> list[str]:
    """Why a study column of the side-by-side table is blank on some rows, one line each."""
    return [
        study_gap_note(metric, f"{metric} {label} (and its delta)")
        for label in study_labels
        for metric in SHOWN
        if f"{metric} {label}" in table and table[f"{metric} {label}"].isna().any()
    ]


def unlike_study(side: pd.DataFrame, source: str, label: str, other: str) -> list[str]:
    """The line that says how an export compared with the study was trained differently."""
    if is_study(source) or not is_study(other):
        return []
    note = settings_note(side, f"the runs of {label}")
    return [note] if note else []


def parser() -> Parser:
    p = Parser(
        prog="unetexp compare",
        description=(
            "Compare two exports (or an export and the study: B = study or study:depth) per config, "
            "and test the study's conclusions on accuracy and Dice (as report does) on every side that "
            "has several seeds (paired by seed where seeds are shared, Welch otherwise, Holm-corrected per table)."
        ),
    )
    p.add_argument("a", help="export CSV (per run or --aggregate)")
    p.add_argument(
        "b", nargs="?", default="study", help="export CSV, study or study:NAME (default: study)"
    )
    p.add_argument(
        "--effect",
        type=float,
        default=0.01,
        help="smallest difference that matters, in metric units (default 0.01: one "
        "point of accuracy): seeds needed to detect it, and 'equivalent' when "
        "the interval lies inside +-effect",
    )
    p.add_argument(
        "--only-changed", action="store_true", help="hide factor columns that never vary"
    )
    p.add_argument("--csv", help="also write the side-by-side table to this CSV file")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        csv = check_file(args.csv, "--csv")
        (a, runs_a), (b, runs_b) = read_side(args.a), read_side(args.b)
        table = side_by_side(a, b, args.only_changed)
        print(f"## {args.a} (A) vs {args.b} (B)\n")
        for label, side in (("A", a), ("B", b)):
            provenance.require_one_source(side)
            print(
                "\n".join(
                    study_source()
                    if side is b and is_study(args.b)
                    else provenance.header(side, f"data {label}")
                )
            )
        for note in unlike_study(a, args.a, "A", args.b) + unlike_study(b, args.b, "B", args.a):
            print(note)
        print(f"\n{markdown_table(table)}")
        for note in study_gaps(
            table, [label for label, source in (("A", args.a), ("B", args.b)) if is_study(source)]
        ):
            print(f"note: {note}")
        for label, runs in (("A", runs_a), ("B", runs_b)):
            if runs is not None and runs.groupby(factor_columns(runs)).size().max() > 1:
                tests, notes = check_all_conclusions(runs, args.effect)
                print(
                    f"\n## The study's conclusions on {label} ({', '.join(CONCLUSION_METRICS)}, "
                    f"p < 0.05 after Holm)\n"
                )
                print(POWER_NOTE.format(effect=args.effect) + "\n")
                print(
                    markdown_table(tests)
                    if not tests.empty
                    else "No comparison behind the study's conclusions is covered by these runs."
                )
                print("".join(f"note: {note}\n" for note in notes), end="")
        if csv:
            write_csv(table, csv, "--csv")
    except UnetexpError as exc:
        exit_with_error(exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
