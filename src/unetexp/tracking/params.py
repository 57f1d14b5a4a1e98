"""The params a job run logs: what this run used, nothing more. The config's flat form carries
every key of every data source (the schema types them all) and keys that are `None` by
construction; a param of another source (`data.count` on an npz run) is a wrong value in the
runs table and a useless axis in the compare view. `config_hash` is computed from the whole
config and does not change."""

from __future__ import annotations

from unetexp.config.hashing import flatten
from unetexp.config.paths import project_root

SPLIT_KEYS = ("name", "test_fraction", "val_fraction", "stratify")  # every source is split
# how to run (retrain), the run's own name, and how its liveness is told (tracking/heartbeat.py)
NOT_LOGGED = (
    "force",
    "tracking.run_name",
    "tracking.heartbeat_s",
    "tracking.stale_after_s",
    "tracking.retry_s",
)


def source_keys(name: str) -> set[str] | None:
    """The data keys the source `name` reads: those its config `conf/data/<name>.yaml` (and
    the data configs it extends) sets, plus the split's. None for a source without such a file
    (a config group added elsewhere): then every data key is kept."""
    import yaml

    path = project_root() / "conf" / "data" / f"{name}.yaml"
    if not path.is_file():
        return None
    node = yaml.safe_load(path.read_text()) or {}
    keys = set(SPLIT_KEYS) | {key for key in node if key != "defaults"}
    for entry in node.get("defaults") or []:
        if isinstance(entry, str) and entry != "_self_":
            keys |= source_keys(entry) or set()
    return keys


def run_params(cfg, sizes: dict[str, int]) -> dict:
    """The config's flat keys without `None` values, `force`, and the data keys of other
    sources, plus the split sizes (`data.n_train`, ...)."""
    keep = source_keys(str(cfg.data.name))
    params = {
        key: value
        for key, value in flatten(cfg).items()
        if value is not None
        and key not in NOT_LOGGED
        and (keep is None or not key.startswith("data.") or key[len("data.") :] in keep)
    }
    return {**params, **{f"data.{k}": v for k, v in sizes.items()}}
