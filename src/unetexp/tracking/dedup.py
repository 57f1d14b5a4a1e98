"""A job already done is not trained again: its config hash finds the FINISHED run."""
from __future__ import annotations

from unetexp.tracking.store import client, connect


def find_finished(uri: str | None, experiment: str, config_hash: str) -> str | None:
    """The id of a FINISHED run of this experiment with this config hash, if any."""
    experiment_id = connect(uri, experiment)
    runs = client(uri).search_runs([experiment_id], filter_string=(
        f"tags.config_hash = '{config_hash}' and attributes.status = 'FINISHED'"), max_results=1)
    return runs[0].info.run_id if runs else None
