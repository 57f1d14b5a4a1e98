"""Which runs a command reads: the options export and report share. Argparse only, so a
command can parse its arguments before it imports anything heavy."""

from __future__ import annotations


def add_source_args(parser) -> None:
    """--experiment / --parent / --sweep / --tracking-uri: which runs a command reads."""
    parser.add_argument("--experiment", default="unetexp", help="MLflow experiment (unetexp)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--parent", help="runs of one multirun: its parent run id")
    which.add_argument(
        "--sweep", help="runs of every multirun of this sweep (depth, convs, ..., all)"
    )
    parser.add_argument(
        "--data",
        metavar="SHA256_OR_PATH",
        help="only runs on this data: a sha256 prefix, or part of the file's path",
    )
    parser.add_argument(
        "--tracking-uri",
        default=None,
        help="MLflow store (default: $MLFLOW_TRACKING_URI, else <project>/mlruns/mlflow.db)",
    )
