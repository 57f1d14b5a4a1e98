"""Where the project lives, so that commands work from any working directory."""

from __future__ import annotations

import os
from pathlib import Path

from unetexp.errors import ConfigError


def project_root() -> Path:
    """$UNETEXP_HOME, else the checkout this package was installed from (pip install -e .)."""
    return Path(os.environ.get("UNETEXP_HOME") or Path(__file__).resolve().parents[3])


def conf_dir() -> Path:
    """The Hydra config folder: <project>/conf."""
    path = project_root() / "conf"
    if not (path / "config.yaml").is_file():
        raise ConfigError(
            f"{path}/config.yaml not found: install unetexp from its checkout with "
            f"`pip install -e .`, or set UNETEXP_HOME to that checkout"
        )
    return path


def sweeps_dir() -> Path:
    """Sweep definitions, one file per table of the study: <project>/sweeps."""
    return project_root() / "sweeps"
