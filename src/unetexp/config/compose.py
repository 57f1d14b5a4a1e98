"""The app's config composed in Python, as `python -m unetexp OVERRIDES` composes it."""

from __future__ import annotations

import copy

from omegaconf import DictConfig, open_dict, read_write


def compose(overrides: list[str]) -> DictConfig:
    """conf/config.yaml on the schema, with Hydra `overrides` (Hydra's errors propagate)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from unetexp.config.paths import conf_dir
    from unetexp.config.schema import register_configs

    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=list(overrides))


def task_config(job_config: DictConfig) -> DictConfig:
    """The config a job's task sees: a sweeper's composed job config without its hydra node."""
    cfg = copy.deepcopy(job_config)
    with read_write(cfg), open_dict(cfg):
        del cfg["hydra"]
    return cfg
