"""`unetexp report`: a Markdown + HTML + PNG report of a sweep (report_document.py says
what is in it), logged as artifacts of the sweep's parent run. No TensorFlow.

Speed: the arguments are parsed before anything heavy is imported, and a FigurePool starts
loading matplotlib in a second process while this one imports pandas and reads the runs."""

from __future__ import annotations

import sys
from pathlib import Path

from unetexp.commands.base import Parser
from unetexp.commands.outputs import check_folder
from unetexp.commands.sources import add_source_args
from unetexp.errors import UnetexpError, exit_with_error
from unetexp.results.figure_pool import FigurePool


def parser() -> Parser:
    p = Parser(
        prog="unetexp report",
        description=(
            "Markdown + HTML report with plots of a sweep (--sweep), a multirun (--parent) or a "
            "whole experiment, logged as artifacts of the sweep's parent run."
        ),
    )
    add_source_args(p)
    p.add_argument(
        "-o", "--out", help="folder to write (default: reports/<sweep or parent or experiment>)"
    )
    p.add_argument(
        "--effect",
        type=float,
        default=0.01,
        help="smallest difference that matters (default 0.01), as for compare",
    )
    p.add_argument("--no-log", action="store_true", help="do not log the report to MLflow")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    name = args.sweep or args.parent or args.experiment
    out = Path(args.out or Path("reports") / name)
    try:
        check_folder(str(out), "--out")
        with FigurePool() as figures:
            from unetexp.results.report_document import build
            from unetexp.results.report_render import write
            from unetexp.results.runs import all_runs, load_from_args, report_parent, sweep_parents
            from unetexp.tracking.artifacts import describe_report, log_files

            parent = None
            if args.parent or args.sweep:
                everything = all_runs(args.tracking_uri, args.experiment)
                parents = (
                    [r for r in everything if r.info.run_id == args.parent]
                    if args.parent
                    else sweep_parents(everything, args.sweep)
                )
                parent = report_parent(parents)
            sections, pngs = build(
                load_from_args(args),
                out,
                f"unetexp report: {name}",
                figures,
                parent.info.run_id if parent else None,
                args.effect,
            )
        files = pngs + write(sections, out, f"unetexp report: {name}")  # the PNGs are drawn now
        if parent and not args.no_log:  # report.md's pictures show as text in MLflow's viewer
            log_files(args.tracking_uri, parent, [f for f in files if f.suffix != ".md"], "report")
            describe_report(args.tracking_uri, parent, "report")
    except UnetexpError as exc:
        exit_with_error(exc)
    except OSError as exc:  # the folder or the disk refused a file (its checks passed before)
        exit_with_error(
            UnetexpError(f"--out {out}: cannot write the report ({exc.strerror or exc})")
        )
    print(
        f"report: {out / 'report.md'}, {out / 'report.html'} (images embedded; {len(files)} files)"
        + (f", logged to run {parent.info.run_id}" if parent and not args.no_log else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
