"""Runs left RUNNING by a process that no longer exists (SIGKILL, power cut) are ended."""

from __future__ import annotations

import logging
import socket

from unetexp.host import alive

log = logging.getLogger(__name__)


def close_stale_runs(client, experiment_id: str) -> None:
    """End as KILLED the runs left RUNNING by a dead process of this host, so that a
    restarted sweep sees them as not done."""
    host = socket.gethostname()
    stale = client.search_runs(
        [experiment_id],
        filter_string=(f"attributes.status = 'RUNNING' and tags.host = '{host}'"),
        max_results=1000,
    )
    for run in stale:
        pid = run.data.tags.get("pid", "")
        if pid.isdigit() and not alive(host, pid):
            client.set_terminated(run.info.run_id, "KILLED")
            log.info("run %s of dead process %s marked KILLED", run.info.run_id, pid)
