"""`unetexp report`: a sweep as the study printed it, plus mean +- std over seeds, floor
baselines, significance of the study's conclusions and plots; Markdown + HTML + PNG, logged
as artifacts of the sweep's parent run. Matplotlib and pandas, no TensorFlow."""
from __future__ import annotations

import argparse
import html
import math
import sys
from pathlib import Path

import pandas as pd

from unetexp import tracking
from unetexp.errors import UnetexpError, exit_with_error
from unetexp.markdown import markdown_table
from unetexp.runs import add_source_args, aggregate, all_runs, load_from_args, sweep_parents
from unetexp.study import Table, reference, tables, check_conclusions

LABELS = {"model.depth": "depth", "model.convs": "convs", "model.upsample": "upsampling",
          "model.bottleneck": "bottleneck", "loss.name": "loss"}


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
        row = {LABELS[table.factor]: value, "time (s)": f"{o['train_time_s_mean']:.2f}",
               "params": int(o["n_params_mean"]),
               "accuracy % (ours)": pm(o["test_accuracy_mean"], o["test_accuracy_std"], o["n"]),
               "accuracy % (study)": f"{ref['test_accuracy'].iloc[-1] * 100:.2f}" if len(ref) else "",
               "dice % (ours)": pm(o["test_dice_mean"], o["test_dice_std"], o["n"])}
        if table.name == "loss":
            row["dice % (study)"] = f"{ref['test_dice'].iloc[-1] * 100:.2f}" if len(ref) else ""
        row["study time (s)"] = f"{ref['train_time_s'].iloc[-1]:.2f}" if len(ref) else ""
        rows.append(row)
    return pd.DataFrame(rows)


def plot_table(table: Table, agg: pd.DataFrame, study: pd.DataFrame, floors: dict, path: Path) -> None:
    """Accuracy and Dice vs the factor, mean +- std over seeds, the study's accuracy and the
    all-background floor for scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = [v for v in table.values if (agg[table.factor].astype(str) == str(v)).any()]
    sub = pd.concat([agg[agg[table.factor].astype(str) == str(v)] for v in values])
    x = range(len(values))
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, metric, title in ((axes[0], "test_accuracy", "pixel accuracy"), (axes[1], "test_dice", "Dice")):
        low, high = int(sub["n"].min()), int(sub["n"].max())
        ax.errorbar(x, sub[f"{metric}_mean"], yerr=sub[f"{metric}_std"].fillna(0), fmt="o-", capsize=4,
                    label=f"unetexp, mean +- std (n={low if low == high else f'{low}..{high}'})")
        ref = [study[study[table.factor].astype(str) == str(v)][metric].mean() if metric in study else math.nan
               for v in values]
        if not all(math.isnan(r) for r in ref):
            ax.plot(x, ref, "s--", color="tab:red", label="study (1 run)")
        floor = floors.get("floor_background_accuracy" if metric == "test_accuracy" else "floor_object_dice")
        if floor is not None:
            ax.axhline(floor, color="grey", ls=":", label="all background" if metric == "test_accuracy"
                       else "all object")
        ax.set_xticks(list(x), [str(v) for v in values])
        ax.set_xlabel(LABELS[table.factor])
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"Table {tables().index(table) + 1} - {table.name}")
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.16, top=0.84, wspace=0.2)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_cost(agg: pd.DataFrame, path: Path) -> None:
    """Accuracy against parameters and against training time, every config of the sweep."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, x, label in ((axes[0], "n_params_mean", "trainable parameters"),
                         (axes[1], "train_time_s_mean", "training time (s)")):
        ax.errorbar(agg[x], agg["test_accuracy_mean"], yerr=agg["test_accuracy_std"].fillna(0),
                    xerr=agg["train_time_s_std"].fillna(0) if x == "train_time_s_mean" else None,
                    fmt="o", capsize=3)
        for _, row in agg.iterrows():
            ax.annotate(config_label(row), (row[x], row["test_accuracy_mean"]), fontsize=6,
                        xytext=(3, 3), textcoords="offset points")
        if agg[x].max() > 10 * agg[x].min():
            ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("pixel accuracy")
        ax.grid(alpha=0.3, which="both")
    fig.suptitle("Accuracy vs cost (mean +- std over seeds)")
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.88, wspace=0.25)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def config_label(row) -> str:
    up = "tr" if row["model.upsample"] == "transpose" else "up"
    return f"d{row['model.depth']} c{row['model.convs']} {up} b{row['model.bottleneck']} {row['loss.name']}"


def build(runs: pd.DataFrame, out: Path, title: str) -> list[Path]:
    """Write report.md, report.html and the PNGs into `out`; return every file written."""
    out.mkdir(parents=True, exist_ok=True)
    agg = aggregate(runs)
    floors = {c: float(runs[c].mean()) for c in runs.columns if c.startswith("floor_")}
    sections: list[tuple[str, object]] = [
        ("h1", title),
        ("p", f"{len(runs)} runs, {len(agg)} configs, seeds {sorted(runs['seed'].unique().tolist())}, "
              f"data: {', '.join(sorted(runs['data.name'].astype(str).unique()))}, "
              f"{int(runs['train.epochs'].iloc[0])} epochs. Accuracy and Dice in percent on the "
              f"test split; mean +- standard deviation over seeds. The study's numbers are single "
              f"runs on its own machine and data split."),
    ]
    if floors:
        sections += [("h2", "Floor baselines (same test splits)"), ("table", pd.DataFrame([{
            "all background: accuracy %": f"{floors.get('floor_background_accuracy', math.nan) * 100:.2f}",
            "all object: accuracy %": f"{floors.get('floor_object_accuracy', math.nan) * 100:.2f}",
            "all object: Dice %": f"{floors.get('floor_object_dice', math.nan) * 100:.2f}"}]))]
    files = []
    for number, table in enumerate(tables(), start=1):
        selected = table.select(agg)
        if selected[table.factor].nunique() < 2:  # a table needs two of its rows to compare
            continue
        study = table.select(reference(table.name))
        png = out / f"table{number}_{table.name}.png"
        plot_table(table, selected, study, floors, png)
        files.append(png)
        sections += [("h2", f"Table {number} - {table.name}"),
                     ("table", table_section(table, selected, study)), ("img", png.name)]
    if len(agg) > 1:
        png = out / "accuracy_vs_cost.png"
        plot_cost(agg, png)
        files.append(png)
        sections += [("h2", "Accuracy vs parameters and time"), ("img", png.name)]
    if agg["n"].max() > 1:
        tests = pd.concat([check_conclusions(runs, m) for m in ("test_accuracy", "test_dice")],
                          ignore_index=True)
        if not tests.empty:
            sections += [("h2", "Which of the study's conclusions hold (p < 0.05, Holm per table)"),
                         ("p", "diff = mean(a) - mean(b); paired t-test by seed where both configs "
                               "share seeds, Welch otherwise; `holds` = significant after Holm and "
                               "in the study's direction (the sign of study_diff)."),
                         ("table", tests)]
    (out / "report.md").write_text(to_markdown(sections))
    (out / "report.html").write_text(to_html(sections, title))
    return files + [out / "report.md", out / "report.html"]


def to_markdown(sections) -> str:
    parts = []
    for kind, content in sections:
        parts.append({"h1": lambda c: f"# {c}", "h2": lambda c: f"## {c}", "p": str,
                      "table": markdown_table, "img": lambda c: f"![{c}]({c})"}[kind](content))
    return "\n\n".join(parts) + "\n"


def to_html(sections, title: str) -> str:
    body = []
    for kind, content in sections:
        if kind in ("h1", "h2", "p"):
            body.append(f"<{kind}>{html.escape(str(content))}</{kind}>")
        elif kind == "table":
            body.append(content.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.4f}"))
        else:
            body.append(f'<img src="{html.escape(content)}" alt="{html.escape(content)}">')
    style = "body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}" \
            "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}img{max-width:100%}"
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="unetexp report", description=(
        "Markdown + HTML report with plots of a sweep (--sweep), a multirun (--parent) or a "
        "whole experiment, logged as artifacts of the sweep's parent run."))
    add_source_args(p)
    p.add_argument("-o", "--out", help="folder to write (default: reports/<sweep or parent or experiment>)")
    p.add_argument("--no-log", action="store_true", help="do not log the report to MLflow")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    name = args.sweep or args.parent or args.experiment
    out = Path(args.out or Path("reports") / name)
    try:
        runs = load_from_args(args)
        files = build(runs, out, f"unetexp report: {name}")
        parent = None
        if (args.parent or args.sweep) and not args.no_log:
            everything = all_runs(args.tracking_uri, args.experiment)
            parents = [r for r in everything if r.info.run_id == args.parent] if args.parent \
                else sweep_parents(everything, args.sweep)
            parent = parents[-1]
            tracking.log_files(args.tracking_uri, parent, files, "report")
    except UnetexpError as exc:
        exit_with_error(exc)
    print(f"report: {out / 'report.md'} ({len(files)} files)"
          + (f", logged to run {parent.info.run_id}" if parent else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
