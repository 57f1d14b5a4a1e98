"""Everything of unetexp that touches Hydra's private API (`hydra._internal`), in one place.

Why: unetexp composes and validates every job of a command line before Hydra starts the app
(config/jobs.py), exactly as Hydra's basic sweeper would compose them, and the decide sweeper
expands its parameters as the basic sweeper does. Hydra exposes none of this publicly: its
command-line parser, its config loader and the basic sweeper's expansion live in
`hydra._internal`.

Tested with hydra-core 1.3.x (pyproject.toml pins `<1.4`). If a release moves or renames any
of the four names below, importing this module fails at the first command, naming
`hydra._internal`, and `tests/config/test_hydra_private.py` fails on it; nothing silently
composes another config.
"""

from __future__ import annotations

from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra._internal.utils import create_config_search_path, get_args_parser

__all__ = ["BasicSweeper", "ConfigLoaderImpl", "create_config_search_path", "get_args_parser"]
