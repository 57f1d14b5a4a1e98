"""A new SQLite store opened by several processes at the same moment: unetexp's own (which
serialise on the store's lock) and a plain `mlflow` client (which does not) all succeed, and
end with one experiment. The processes start together on a barrier (each says "ready" once
its imports are done, then waits for "go"), not after a guessed sleep."""

from __future__ import annotations

import subprocess
import sys

OPEN = """
import sys
uri, kind = sys.argv[1], sys.argv[2]
import mlflow
from unetexp.tracking.store import OPEN_ATTEMPTS, RACES, connect
print("ready", flush=True)
assert sys.stdin.readline() == "go\\n"
if kind == "mlflow":  # retries only what unetexp declares a race of MLflow's own migration
    import time
    for attempt in range(1, OPEN_ATTEMPTS + 1):
        try:
            print(len(mlflow.MlflowClient(uri).search_experiments()), "experiment(s) seen")
            break
        except Exception as exc:
            if attempt == OPEN_ATTEMPTS or not any(text in str(exc) for text in RACES):
                raise
            time.sleep(0.2 * attempt)  # a back-off, as connect's
else:
    print(connect(uri, "unetexp"))
"""


def test_several_processes_open_one_new_store_at_once(store):
    kinds = ["unetexp", "unetexp", "unetexp", "mlflow"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN, store, kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for kind in kinds
    ]
    for proc in procs:  # the barrier: every process has imported mlflow and unetexp
        assert proc.stdout.readline() == "ready\n"
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    outs = [proc.communicate(timeout=300)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4, "\n".join(o[-1500:] for o in outs)
    ids = {
        out.strip().splitlines()[-1]
        for out, kind in zip(outs, kinds, strict=True)
        if kind == "unetexp"
    }
    assert len(ids) == 1  # one experiment, created once
    import mlflow

    names = [e.name for e in mlflow.MlflowClient(store).search_experiments()]
    assert sorted(names) == ["Default", "unetexp"]
