"""`unetexp status`: how far a sweep is, on one screen, from the MLflow store alone.

Its configs FINISHED (trained or reused), RUNNING (host, pid, epoch k of n, last heartbeat),
FAILED or KILLED, and not started yet, with the time left estimated from the finished jobs'
times. Works on any store (SQLite or a server: every host's jobs appear); imports MLflow,
never TensorFlow.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import datetime

from unetexp.commands.base import Parser
from unetexp.errors import UnetexpError, exit_with_error


def parser() -> Parser:
    p = Parser(
        prog="unetexp status",
        description="Where a sweep is: each job's state, host, epoch and heartbeat, and the "
        "time left. Default: the latest sweep of the experiment.",
    )
    p.add_argument("--experiment", default="unetexp", help="MLflow experiment (unetexp)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--parent", help="the sweep's parent run id")
    which.add_argument("--sweep", help="the latest sweep of this name (depth, convs, ..., all)")
    p.add_argument(
        "--tracking-uri",
        default=None,
        help="MLflow store (default: $MLFLOW_TRACKING_URI, else <project>/mlruns/mlflow.db)",
    )
    p.add_argument(
        "--watch",
        nargs="?",
        const=10.0,
        type=float,
        metavar="SECONDS",
        help="redraw every SECONDS (10) until the sweep ends or Ctrl-C",
    )
    return p


def find_parent(mlflow_client, experiment: str, parent: str | None, sweep: str | None):
    """The sweep's parent run: by id, else the latest sweep (of that name)."""
    found = mlflow_client.get_experiment_by_name(experiment)
    if found is None:
        raise UnetexpError(f"--experiment {experiment}: no such experiment in this store")
    if parent:
        try:
            return mlflow_client.get_run(parent)
        except Exception:
            raise UnetexpError(f"--parent {parent}: no such run in this store") from None
    where = "tags.role = 'sweep'" + (f" and tags.sweep = '{sweep}'" if sweep else "")
    runs = mlflow_client.search_runs(
        [found.experiment_id], where, order_by=["attributes.start_time DESC"], max_results=1
    )
    if not runs:
        named = f" named {sweep}" if sweep else ""
        raise UnetexpError(f"no sweep{named} in experiment {experiment} of this store")
    return runs[0]


def job_rows(mlflow_client, parent) -> list[dict]:
    """One row per job run of the sweep (reused ones included), in job order."""
    children = mlflow_client.search_runs(
        [parent.info.experiment_id],
        f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        max_results=10000,
    )
    reused = {
        int(k.split(".", 1)[1]): v for k, v in parent.data.tags.items() if k.startswith("reused.")
    }
    rows = [_row(mlflow_client, run) for run in children]
    for job_num, run_id in reused.items():
        rows.append({**_row(mlflow_client, mlflow_client.get_run(run_id)), "job": job_num})
        rows[-1]["state"] = "REUSED"
    return sorted(rows, key=lambda r: (r["job"] is None, r["job"] or 0))


def _row(mlflow_client, run) -> dict:
    tags, info = run.data.tags, run.info
    epochs = run.data.params.get("train.epochs", "?")
    done = int(run.data.metrics.get("epochs_run", 0))
    if info.status == "RUNNING":
        history = mlflow_client.get_metric_history(info.run_id, "train_loss")
        done = max((m.step for m in history), default=0)
    beat = tags.get("heartbeat", "")
    seconds = (
        (info.end_time - info.start_time) / 1000 if info.end_time and info.start_time else None
    )
    return {
        "job": int(tags["job_num"]) if tags.get("job_num", "").isdigit() else None,
        "state": info.status,
        "run": info.run_id[:8],
        "host": tags.get("host", "?"),
        "pid": tags.get("pid", "?"),
        "epoch": f"{done}/{epochs}",
        "heartbeat": f"{time.time() - float(beat):.0f} s ago" if beat.isdigit() else "-",
        "seconds": seconds,
        "name": info.run_name or "",
    }


def render(parent, rows: list[dict]) -> str:
    """The screen: the sweep, its counts, the time left, one line per job."""
    expected = int(parent.data.tags.get("n_jobs", "0") or 0)
    counts = {s: sum(r["state"] == s for r in rows) for s in ("RUNNING", "FAILED", "KILLED")}
    finished = sum(r["state"] in ("FINISHED", "REUSED") for r in rows)
    waiting = max(expected - len(rows), 0)
    started = datetime.fromtimestamp(parent.info.start_time / 1000)
    lines = [
        f"sweep {parent.data.tags.get('sweep') or '-'}  parent {parent.info.run_id} "
        f"({parent.info.status}, started {started:%Y-%m-%d %H:%M}"
        + (f", {expected} jobs)" if expected else ")"),
        f"FINISHED {finished}  RUNNING {counts['RUNNING']}  FAILED {counts['FAILED']}  "
        f"KILLED {counts['KILLED']}  not started {waiting if expected else '?'}",
        left(rows, waiting),
        "",
        f"{'job':>4}  {'state':<8}  {'run':<8}  {'host':<12}  {'pid':>7}  {'epoch':>7}  "
        f"{'heartbeat':>10}  name",
    ]
    for r in rows:
        job = f"#{r['job']}" if r["job"] is not None else "-"
        lines.append(
            f"{job:>4}  {r['state']:<8}  {r['run']:<8}  {r['host'][:12]:<12}  {r['pid']:>7}  "
            f"{r['epoch']:>7}  {r['heartbeat']:>10}  {r['name']}"
        )
    return "\n".join(lines)


def left(rows: list[dict], waiting: int) -> str:
    """Time left: the finished jobs' mean time for each job not started and the unfinished
    part of each running one, shared by the jobs running at once."""
    times = [r["seconds"] for r in rows if r["state"] == "FINISHED" and r["seconds"]]
    running = [r for r in rows if r["state"] == "RUNNING"]
    if not running and not waiting:
        return "time left: none (nothing running, nothing waiting)"
    if not times:
        return "time left: unknown until a job finishes"
    mean = statistics.mean(times)
    todo = waiting * mean
    for r in running:
        done, _, total = r["epoch"].partition("/")
        fraction = int(done) / int(total) if total.isdigit() and int(total) else 0.0
        todo += (1.0 - fraction) * mean
    seconds = todo / max(len(running), 1)
    return (
        f"time left: about {seconds / 60:.0f} min ({len(times)} finished jobs, {mean:.0f} s each)"
    )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        from unetexp.tracking.store import open_store

        mlflow_client, _ = open_store(args.tracking_uri, "store")
        while True:
            parent = find_parent(mlflow_client, args.experiment, args.parent, args.sweep)
            screen = render(parent, job_rows(mlflow_client, parent))
            if args.watch is None:
                print(screen)
                return 0
            print("\033[2J\033[H" + screen, flush=True)
            if parent.info.status != "RUNNING":
                return 0
            time.sleep(args.watch)
    except UnetexpError as exc:
        exit_with_error(exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
