"""What the decide sweeper (hydra/sweeper=decide) records on its sweep's parent run: every
round and the final decision of every comparison, as metrics, tags and JSON/Markdown
artifacts under decide/, and the lines it prints. No Hydra, no TensorFlow."""

from __future__ import annotations

import json
import logging
import math

from unetexp.tracking.store import resolve_uri

log = logging.getLogger(__name__)

SHOWN = [
    "table",
    "comparison",
    "verdict",
    "n",
    "diff",
    "sd_diff",
    "p_seq_holm",
    "p_seq_tost",
    "seeds_for_effect",
    "stopped",
]


def clean(value):
    """JSON without NaN or infinity (null instead), for any reader."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


def tag_key(row: dict) -> str:
    """decision.depth.3_vs_4: one tag per comparison (MLflow keys allow no ':')."""
    a, _, b = row["comparison"].partition(": ")[2].partition(" vs ")
    return f"decision.{row['table']}.{a}_vs_{b}"


def summary(row: dict) -> str:
    return (
        f"{row['verdict']} (n={row['n']}, diff={row['diff']:+.4f}, "
        f"p_seq_holm={row['p_seq_holm']:.3g}, p_seq_tost={row['p_seq_tost']:.3g})"
    )


def _client(uri: str | None):
    import mlflow

    return mlflow.MlflowClient(tracking_uri=resolve_uri(uri))


def record_round(uri: str | None, parent_run_id: str, record: dict) -> None:
    """Metrics by round (step), the round's JSON, and one line per comparison in the log."""
    client, number = _client(uri), record["round"]
    client.log_metric(parent_run_id, "decide_jobs", record["jobs_total"], step=number)
    client.log_metric(parent_run_id, "decide_undecided", record["undecided"], step=number)
    client.log_dict(parent_run_id, clean(record), f"decide/round_{number}.json")
    log.info(
        "decide round %d: %d jobs (%d in all), %d undecided",
        number,
        record["jobs"],
        record["jobs_total"],
        record["undecided"],
    )
    for row in record["comparisons"]:
        log.info("  %s %s: %s", row["table"], row["comparison"], summary(row))


def record_final(uri: str | None, parent_run_id: str, result: dict) -> None:
    """One tag per comparison, the totals, decide/decisions.json and decide/decisions.md."""
    import pandas as pd

    from unetexp.results.markdown import markdown_table

    client = _client(uri)
    for row in result["decisions"]:
        client.set_tag(parent_run_id, tag_key(row), summary(row))
    fixed = result["fixed_jobs_for_effect"]
    totals = {
        "decide.jobs": result["jobs"],
        "decide.rounds": len(result["rounds"]),
        "decide.fixed_jobs_at_last_look": result["fixed_jobs_at_last_look"],
        "decide.fixed_jobs_for_effect": "" if fixed is None else fixed,
        "decide.design": json.dumps(result["design"], sort_keys=True),
    }
    for key, value in totals.items():
        client.set_tag(parent_run_id, key, str(value))
    client.log_dict(parent_run_id, clean(result), "decide/decisions.json")
    table = markdown_table(pd.DataFrame(result["decisions"])[SHOWN])
    client.log_text(parent_run_id, table + "\n", "decide/decisions.md")
    design = result["design"]
    log.info(
        "decide: %d jobs in %d rounds; a fixed design with the last look's seeds for every "
        "config: %d; one with the seeds that effect=%g needs for %g %% power: %s\n%s",
        result["jobs"],
        len(result["rounds"]),
        result["fixed_jobs_at_last_look"],
        design["effect"],
        design["power"] * 100,
        "?" if fixed is None else fixed,
        table,
    )
