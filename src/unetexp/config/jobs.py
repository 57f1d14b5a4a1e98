"""Every job of a command line composed and validated before Hydra starts the app: a typo, a
bad value or a sweep's bad last value ends the command in one line before anything trains or
any MLflow run exists, whichever launcher would run the jobs (basic, joblib, Ray).

Jobs are composed as Hydra's basic sweeper composes them: its config loader, the sweep
parameters of the config (`hydra.sweeper.params`, set by sweeps/*.yaml) and the command
line's, expanded by `BasicSweeper.split_arguments`."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from functools import lru_cache
from typing import NoReturn

from hydra.errors import HydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException
from yaml import MarkedYAMLError, YAMLError

from unetexp.errors import ConfigError, UnetexpError, first_line

# what Hydra's composition raises on user input (a TypeError for `~list.0=x`, found by fuzzing)
COMPOSE_ERRORS = (
    HydraException,
    OmegaConfBaseException,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    YAMLError,  # a config file of the user's (--config-dir) that is not YAML
)
ONE_MODE = ("-m/--multirun", "-c/--cfg", "-i/--info", "-r/--run", "--shell-completion")


def hydra_args(argv: list[str]) -> argparse.Namespace:
    """The command line as Hydra's own parser reads it (its usage errors are one line)."""
    from unetexp.config.hydra_private import get_args_parser

    parser = get_args_parser()
    # Hydra builds the parser, so its usage errors become a ConfigError by replacing error(),
    # argparse's one hook for them (a method mypy will not let be assigned)
    parser.error = _refuse  # type: ignore[method-assign]
    return parser.parse_args(argv)


def _refuse(message: str) -> NoReturn:
    raise ConfigError(message)


def check_command_line(argv: list[str]) -> int:
    """Raise a one-line `UnetexpError` for a command line Hydra would refuse or whose jobs
    cannot train: modes, composition, every job's values and its data's image size. Returns
    the number of jobs (0 when nothing trains: --help, --cfg; 1 for a sweeper that picks its
    own jobs)."""
    args = hydra_args(argv)
    modes = (
        args.run
        + (args.cfg is not None)
        + args.multirun
        + args.shell_completion
        + (args.info is not None)
    )
    if modes > 1:
        raise ConfigError(f"use only one of {', '.join(ONE_MODE)}")
    if args.resolve and args.cfg is None:
        raise ConfigError("--resolve only goes with --cfg")
    if args.help or args.hydra_help or args.info is not None or args.shell_completion:
        return 0
    jobs = compose_jobs(
        args.overrides, args.multirun, args.config_name or "config", args.config_dir
    )
    backends: list[str] = []  # in the jobs' order
    count, basic = 0, True
    for overrides, cfg in jobs:
        count += 1
        basic = str(cfg.hydra.sweeper.get("_target_", "")).endswith(".BasicSweeper")
        if args.cfg is None:
            check_job(cfg, overrides if args.multirun else None)
            if cfg.train.backend not in backends:
                backends.append(cfg.train.backend)
    if len(backends) > 1:  # Keras runs one backend per process, and launchers reuse theirs
        raise ConfigError(
            f"train.backend: this sweep mixes {', '.join(backends)}: Keras runs one backend "
            "per process, and every launcher reuses its processes; sweep one backend per command"
        )
    return count if args.cfg is None and (basic or not args.multirun) else 0


def compose_jobs(
    overrides: list[str], multirun: bool, config_name: str, config_dir: str | None
) -> Iterator[tuple[list[str], DictConfig]]:
    """(job overrides, job config) of each job, in the sweeper's order; a composition error
    as one line naming the override."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.types import RunMode

    from unetexp.config.hydra_private import BasicSweeper

    run_mode, loader = (RunMode.MULTIRUN if multirun else RunMode.RUN), None
    try:
        loader = _loader(config_dir)
        master = _compose(loader, config_name, overrides, run_mode)
        if not multirun:
            yield list(overrides), master
            return
        if not str(master.hydra.sweeper.get("_target_", "")).endswith(".BasicSweeper"):
            yield list(overrides), master  # another sweeper picks its own jobs
            return
        params = [f"{k}={v}" for k, v in (master.hydra.sweeper.get("params") or {}).items()]
        parsed = OverridesParser.create(config_loader=loader).parse_overrides(
            params + list(master.hydra.overrides.task)
        )
        batches = BasicSweeper.split_arguments(parsed, None)[0]
    except COMPOSE_ERRORS as exc:
        culprit = loader and next(
            (item for item in overrides if _fails_alone(loader, config_name, item, run_mode)), None
        )
        raise ConfigError(composition_error(exc, culprit)) from None
    for job in batches:
        try:
            yield job, loader.load_sweep_config(master, job)
        except COMPOSE_ERRORS as exc:
            raise ConfigError(f"job ({' '.join(job)}): {composition_error(exc)}") from None


@lru_cache(maxsize=4)
def _loader(config_dir: str | None):
    """Hydra's config loader on the project's conf/ (plus --config-dir), plugins included;
    made once per process (it scans the plugins)."""
    import os

    from hydra.core.config_search_path import SearchPathQuery

    from unetexp.config.hydra_private import ConfigLoaderImpl, create_config_search_path
    from unetexp.config.paths import conf_dir
    from unetexp.config.schema import register_configs

    register_configs()
    search_path = create_config_search_path(str(conf_dir()))
    if config_dir is not None:
        search_path.prepend(
            provider="command-line",
            path=f"file://{os.path.abspath(config_dir)}",
            anchor=SearchPathQuery(provider="schema"),
        )
    return ConfigLoaderImpl(config_search_path=search_path)


def _compose(loader, config_name: str, overrides: list[str], run_mode) -> DictConfig:
    return loader.load_configuration(config_name, overrides=list(overrides), run_mode=run_mode)


def _fails_alone(loader, config_name: str, override: str, run_mode) -> bool:
    """Whether one override does not compose on its own (the culprit of a failure)."""
    try:
        _compose(loader, config_name, [override], run_mode)
    except COMPOSE_ERRORS:
        return True
    return False


def composition_error(exc: BaseException, culprit: str | None = None) -> str:
    """Hydra's and OmegaConf's multi-line reports in one line: which override, what failed,
    why (an OmegaConf cause repeats its message as a `$VALUE` template: left out)."""
    causes = [first_line(exc)]
    if isinstance(exc, MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        causes = [f"{mark.name}, line {mark.line + 1}: {exc.problem or first_line(exc)}"]
    cause = exc.__cause__ or exc.__context__
    while cause is not None and len(causes) < 3:
        line = first_line(cause)
        if line not in causes and "$" not in line and line != "None":
            causes.append(line)
        cause = cause.__cause__ or cause.__context__
    text = ": ".join(causes)
    culprit = getattr(exc, "override", None) or culprit  # a parse error names its override
    if culprit and culprit not in text:
        text = f"{culprit}: {text}"
    if "token recognition error" in text:  # Hydra reads only ASCII outside quotes
        text += " (quote a value with spaces or non-ASCII characters: KEY='...')"
    return f"cannot compose the config: {text}"


def check_job(cfg: DictConfig, overrides: list[str] | None) -> None:
    """One job's values and its data's image size; `overrides` name the job of a sweep."""
    from unetexp.config.validation import check_depth, validate
    from unetexp.data.shape import image_sides

    try:
        validate(cfg)
        sides, source = image_sides(cfg.data)
        for side in sorted(sides):
            check_depth(cfg.model.depth, side, source)
    except UnetexpError as exc:
        if overrides is None:
            raise
        raise type(exc)(f"job ({' '.join(overrides)}): {exc}") from None
