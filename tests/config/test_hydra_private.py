"""Hydra's private API that unetexp uses (config/hydra_private.py) is there, and does what
config/jobs.py relies on: a Hydra release that moves or changes it fails here by name."""

from __future__ import annotations

from unetexp.config import hydra_private


def test_the_parser_reads_a_multirun_command_line():
    args = hydra_private.get_args_parser().parse_args(["-m", "model.depth=1,2"])
    assert args.multirun and args.overrides == ["model.depth=1,2"]


def test_the_basic_sweepers_expansion_is_the_cartesian_product():
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(["a=1,2", "b=x,y"])
    (batch,) = hydra_private.BasicSweeper.split_arguments(parsed, None)
    assert batch == [["a=1", "b=x"], ["a=1", "b=y"], ["a=2", "b=x"], ["a=2", "b=y"]]


def test_the_config_loader_composes_the_projects_config():
    from hydra.types import RunMode

    from unetexp.config.paths import conf_dir
    from unetexp.config.schema import register_configs

    register_configs()
    loader = hydra_private.ConfigLoaderImpl(
        config_search_path=hydra_private.create_config_search_path(str(conf_dir()))
    )
    cfg = loader.load_configuration("config", overrides=["model.depth=4"], run_mode=RunMode.RUN)
    assert cfg.model.depth == 4
    for method in ("load_sweep_config", "load_configuration"):
        assert callable(getattr(loader, method))


def test_nothing_else_imports_hydra_internals():
    import subprocess

    from conftest import PROJECT

    found = subprocess.run(
        ["grep", "-rln", "hydra._internal", "src"], cwd=PROJECT, capture_output=True, text=True
    ).stdout.split()
    assert found == ["src/unetexp/config/hydra_private.py"], found
