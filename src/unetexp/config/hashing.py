"""A config's identity: its flat key=value form (MLflow params) and the hash of what is
trained (a FINISHED run with the same hash is reused)."""

from __future__ import annotations

import hashlib
import json
from typing import Any, cast

from omegaconf import DictConfig, OmegaConf

# keys that say how to run or where to log, not what is trained: outside config_hash
NOT_HASHED = (
    "tracking.",
    "force",
    "train.intra_op_threads",
    "train.inter_op_threads",
    "train.resume",  # where a run's epochs come from, not what they train
    "train.checkpoint_dir",
    "data.strict",  # stops or skips: what trains, when it trains, is the same data
)
# keys that say how to get the data, not what is trained, added to the hash before they became
# what they are: hashed at their first default, so that runs logged before keep their hash
HASHED_AS = {"data.download": False}  # its default was false until data=pets downloaded by itself
# keys added after runs were logged: left out of the hash at this value, so those runs keep theirs
# (train.backend: one seed gives other numbers on another backend, so it is a config's identity;
# at its default it is left out, and every run logged before it existed keeps its hash)
NEW_AT = {
    "data.mask_values": None,
    "train.backend": "tensorflow",
    "train.precision": "float32",
    "train.augment": "none",
}


def flatten(cfg: DictConfig | dict, prefix: str = "") -> dict[str, Any]:
    """Every leaf as `a.b.c: value`, the names MLflow params use."""
    node: dict[str, Any] = (
        cast(dict[str, Any], OmegaConf.to_container(cfg, resolve=True))  # a DictConfig's is a dict
        if isinstance(cfg, DictConfig)
        else cfg
    )
    out: dict[str, Any] = {}
    for key, value in node.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, prefix=f"{name}."))
        else:
            out[name] = value
    return out


def config_hash(cfg: DictConfig) -> str:
    """Stable hash of what is trained (seed included): same hash, same experiment."""
    leaves = {
        k: HASHED_AS.get(k, v)
        for k, v in flatten(cfg).items()
        if not k.startswith(NOT_HASHED) and not (k in NEW_AT and v == NEW_AT[k])
    }
    return hashlib.sha256(json.dumps(leaves, sort_keys=True, default=str).encode()).hexdigest()[:16]
