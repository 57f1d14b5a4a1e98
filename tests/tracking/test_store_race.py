"""A new SQLite store opened by several processes at the same moment: unetexp's own (which
serialise on the store's lock) and a plain `mlflow` client (which does not) all succeed."""

from __future__ import annotations

import subprocess
import sys
import time

OPEN = """
import sys, time
uri, at, kind = sys.argv[1], float(sys.argv[2]), sys.argv[3]
if kind == "mlflow":
    import mlflow
    time.sleep(max(0.0, at - time.time()))
    for attempt in range(20):  # a plain client meeting unetexp's migration may fail: it retries
        try:                   # (MLflow's own, unlocked, migration is not ours to fix)
            mlflow.MlflowClient(uri).search_experiments()
            break
        except Exception as exc:
            print("plain mlflow client retries:", str(exc).splitlines()[0])
            time.sleep(0.5)
else:
    from unetexp.tracking.store import connect
    import mlflow
    time.sleep(max(0.0, at - time.time()))
    print(connect(uri, "unetexp"))
"""


def test_several_processes_open_one_new_store_at_once(store):
    at = time.time() + 20  # every process imported mlflow by then: they start together
    kinds = ["unetexp", "unetexp", "unetexp", "mlflow"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN, store, str(at), kind],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for kind in kinds
    ]
    outs = [proc.communicate(timeout=300)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4, "\n".join(o[-1500:] for o in outs)
    ids = {
        out.strip().splitlines()[-1]
        for out, kind in zip(outs, kinds, strict=False)
        if kind == "unetexp"
    }
    assert len(ids) == 1  # one experiment, created once
