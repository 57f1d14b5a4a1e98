"""A RUNNING run's sign of life, so that a job on another host can tell a dead owner from a live one.

A job's pid says whether it lives only on its own host. Every `tracking.heartbeat_s` a thread
of the job sets its run's `heartbeat` tag to the time (unix seconds; a thread, so that a long
epoch does not look dead), and a claimant treats a RUNNING run of another host whose last
heartbeat is older than `tracking.stale_after_s` as dead (`claim`). Hosts' clocks must agree
to well within that timeout (NTP). Runs of releases before the heartbeat have none: they are
judged as before (alive, on another host).
"""

from __future__ import annotations

import logging
import threading
import time

from unetexp.errors import first_line
from unetexp.tracking.store import client

log = logging.getLogger(__name__)

TAG = "heartbeat"
EVERY_S = 30.0  # tracking.heartbeat_s's default
STALE_AFTER_S = 300.0  # tracking.stale_after_s's default: ten beats missed


def last_beat(run) -> float | None:
    """Unix seconds of a run's last heartbeat; None for a run that never had one."""
    value = run.data.tags.get(TAG, "")
    try:
        return float(value)
    except ValueError:
        return None


def stale(run, stale_after_s: float, now: float | None = None) -> float | None:
    """How many seconds a run's heartbeat is past `stale_after_s` old; None while it is fresh
    (or the run has none)."""
    beat = last_beat(run)
    if beat is None:
        return None
    age = (time.time() if now is None else now) - beat
    return age if age > stale_after_s else None


class Heartbeat:
    """The thread that keeps a run's `heartbeat` tag fresh until `stop`. Through its own
    MlflowClient (MLflow's active run is the job's thread's); a store that fails is a warning
    once, and the beat goes on."""

    def __init__(self, uri: str | None, run_id: str, every_s: float):
        self.run_id, self.every_s = run_id, every_s
        self._client = client(uri)
        self._stop = threading.Event()
        self._warned = False
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._send()  # at once: a claimant that looks now sees it alive
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)

    def _beat(self) -> None:
        while not self._stop.wait(self.every_s):
            self._send()

    def _send(self) -> None:
        try:
            self._client.set_tag(self.run_id, TAG, f"{time.time():.0f}")
        except Exception as exc:  # the server away for a while: the job goes on
            if not self._warned:
                log.warning("heartbeat of run %s not recorded (%s)", self.run_id, first_line(exc))
                self._warned = True
