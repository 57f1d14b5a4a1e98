"""Load on a tracking server: N concurrent jobs logging as unetexp's jobs do, at the real
per-epoch rate or flat out; requests per second, latency and errors.

    python benchmarks/server_load.py --tracking-uri http://HOST:5000 [--jobs 16,32]
        [--epochs 10] [--epoch-s 8] [--heartbeat-s 30] [--csv load.csv]

Each job is a process of its own (its own MlflowClient and connections, as on a machine of its
own), released at once with the others: it creates its run with a job's tags, logs its params,
then each epoch one batch of the 10 per-epoch metrics (one request, as `log_metrics` sends
them) and every `--heartbeat-s` its heartbeat tag, and at the end its final metrics, three
small artifacts (config, report, summary: uploaded through the server) and its end.
`--epoch-s 8` is a real epoch of the study on a 2-core CPU (table 1 at depth 3, 714 real
photographs); a GPU's epochs are a second or less; `--epoch-s 0` logs as fast as the server
answers. The claim's searches (three per job start) are counted among the requests.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import time

from common import print_table

# what a job logs each epoch (training/callbacks.py names them; importing it would load Keras)
EPOCH_KEYS = [
    f"{split}_{name}" for split in ("train", "val") for name in ("loss", "accuracy", "dice", "iou")
] + ["lr", "lr_log10"]


def job(uri: str, experiment_id: str, index: int, args, go, results) -> None:
    """One job's requests, each timed: (seconds, ok) per request."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    client = MlflowClient(uri)
    timings: list[tuple[float, bool]] = []

    def timed(call, *a, **k):
        start = time.perf_counter()
        try:
            value = call(*a, **k)
            timings.append((time.perf_counter() - start, True))
            return value
        except Exception as exc:  # counted, and the first of each job said
            if all(ok for _, ok in timings):
                print(f"job {index}: {type(exc).__name__}: {str(exc)[:300]}", flush=True)
            timings.append((time.perf_counter() - start, False))
            return None

    go.wait()
    config = f"load-{index}"
    for status in ("RUNNING", "FINISHED", "KILLED"):  # the claim's look at its config
        timed(
            client.search_runs,
            [experiment_id],
            f"tags.config_hash = '{config}' and attributes.status = '{status}'",
        )
    run = timed(
        client.create_run,
        experiment_id,
        tags={"config_hash": config, "role": "job", "host": "load", "heartbeat": "0"},
    )
    if run is None:
        results.put(timings)
        return
    run_id = run.info.run_id
    params = [Param(f"param_{k}", str(k)) for k in range(40)]  # a job logs about 40
    timed(client.log_batch, run_id, params=params)
    beat = time.monotonic()
    for epoch in range(1, args.epochs + 1):
        if args.epoch_s:
            time.sleep(args.epoch_s)  # the epoch's training
        now = int(time.time() * 1000)
        metrics = [Metric(key, 0.5, now, epoch) for key in EPOCH_KEYS]
        timed(client.log_batch, run_id, metrics=metrics)
        if time.monotonic() - beat >= args.heartbeat_s:
            timed(client.set_tag, run_id, "heartbeat", f"{time.time():.0f}")
            beat = time.monotonic()
    now = int(time.time() * 1000)
    final = [Metric(f"test_{k}", 0.5, now, 0) for k in range(30)]
    timed(client.log_batch, run_id, metrics=final)
    for name in ("config.yaml", "classification_report.json", "summary.txt"):
        timed(client.log_text, run_id, "x" * 2000, name)
    timed(client.set_terminated, run_id, "FINISHED")
    results.put(timings)


def measure(uri: str, jobs: int, args) -> dict:
    from mlflow import MlflowClient

    name = f"server-load-{jobs}-{time.time():.0f}"
    experiment_id = MlflowClient(uri).create_experiment(name)
    context = mp.get_context("fork")  # MLflow imported once, before the jobs
    go, results = context.Barrier(jobs + 1), context.Queue()  # every job ready, then all at once
    procs = [
        context.Process(target=job, args=(uri, experiment_id, i, args, go, results))
        for i in range(jobs)
    ]
    for proc in procs:
        proc.start()
    go.wait()
    start = time.perf_counter()
    timings = [t for _ in procs for t in results.get(timeout=3600)]
    wall = time.perf_counter() - start
    for proc in procs:
        proc.join()
    latencies = sorted(seconds * 1000 for seconds, _ in timings)
    cut = statistics.quantiles(latencies, n=100)
    return {
        "jobs": jobs,
        "epoch_s": args.epoch_s,
        "requests": len(timings),
        "wall_s": wall,
        "requests_per_s": len(timings) / wall,
        "p50_ms": cut[49],
        "p95_ms": cut[94],
        "max_ms": latencies[-1],
        "errors": sum(not ok for _, ok in timings),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--jobs", default="16,32")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--epoch-s", type=float, default=8.0)
    parser.add_argument("--heartbeat-s", type=float, default=30.0)
    parser.add_argument("--csv")
    args = parser.parse_args()
    import mlflow  # noqa: F401  (once, before the forks)

    rows = [measure(args.tracking_uri, int(n), args) for n in args.jobs.split(",")]
    print_table(rows, args.csv)


if __name__ == "__main__":
    main()
