"""`unetexp export`: runs to CSV, one row per run or one per config over seeds."""

from __future__ import annotations

import sys

from unetexp.commands.base import Parser
from unetexp.commands.outputs import check_file, write_csv
from unetexp.commands.sources import add_source_args
from unetexp.errors import UnetexpError, exit_with_error
from unetexp.results.runs import aggregate, load_from_args, only_changed


def parser() -> Parser:
    p = Parser(
        prog="unetexp export",
        description=(
            "Write the FINISHED runs of an experiment, a multirun (--parent) or a sweep (--sweep) "
            "as CSV: run id, sweep, seed, each factor, n_params, train_time_s, every test_* metric; "
            "a search's pruned trials too, with the epoch they stopped at (pruned_at_epoch)."
        ),
    )
    add_source_args(p)
    p.add_argument(
        "--aggregate",
        action="store_true",
        help="one row per config over seeds: n, mean, std, 95%% CI half-width",
    )
    p.add_argument(
        "--only-changed", action="store_true", help="drop factor columns that never vary"
    )
    p.add_argument("-o", "--out", help="CSV file to write (default: stdout)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        out = check_file(args.out, "-o")
        table = load_from_args(args, pruned=not args.aggregate)  # aggregates: FINISHED runs
        if args.aggregate:
            table = aggregate(table)
        if args.only_changed:
            table = only_changed(table)
        if out:
            write_csv(table, out, "-o")
    except UnetexpError as exc:
        exit_with_error(exc)
    if out:
        print(f"{len(table)} rows -> {args.out}", file=sys.stderr)
    else:
        table.to_csv(sys.stdout, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
