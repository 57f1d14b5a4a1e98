"""The `unetexp` console script and `python -m unetexp`.

`unetexp [overrides]` is the Hydra training app; `unetexp COMMAND ...` runs one of the
commands below, which never import TensorFlow unless they train or predict. `unetexp search
[overrides]` is the app's multirun with the search sweeper (`-m hydra/sweeper=search`).
"""

from __future__ import annotations

import importlib
import os
import sys

# TensorFlow's and XLA's C++ log level, before anything imports them: Keras imports JAX where it
# is installed, and JAX sets its own default (1: warnings and errors, the cuInit one of a
# machine without a GPU among them) when none is set (training/native_log.py)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# command -> "module:function"; each function takes the remaining argv and returns an exit code
COMMANDS: dict[str, str] = {
    "export": "unetexp.commands.export:main",
    "compare": "unetexp.commands.compare:main",
    "report": "unetexp.commands.report:main",
    "data": "unetexp.commands.data:main",  # unetexp data prepare ...
    "predict": "unetexp.commands.predict:main",
    "status": "unetexp.commands.status:main",  # unetexp status [--sweep NAME] [--watch]
}


def main() -> None:
    try:
        from unetexp.commands.base import run_quietly

        code = run_quietly(lambda: _dispatch(sys.argv[1:]))
    except KeyboardInterrupt:  # Ctrl-C while the modules load, before run_quietly's own catch
        print("unetexp: interrupted", file=sys.stderr, flush=True)
        code = 130
    sys.exit(code)


# the flags of the retired `unetexp search` command, and the sweeper keys that replace them
OLD_SEARCH_FLAGS = {
    "--trials": "hydra.sweeper.n_trials=N",
    "--alpha": "loss.alpha='interval(LOW,HIGH)'",
    "--lr": "train.lr='tag(log,interval(LOW,HIGH))'",
    "--study": "hydra.sweeper.study_name=NAME",
    "--storage": "hydra.sweeper.storage=URL",
    "--sampler-seed": "hydra.sweeper.seed=N",
}


def search_argv(argv: list[str]) -> list[str]:
    """`unetexp search ARGS` as the app's own `-m hydra/sweeper=search ARGS`."""
    from unetexp.errors import ConfigError

    for arg in argv:
        flag = arg.split("=", 1)[0]
        if flag in OLD_SEARCH_FLAGS:
            raise ConfigError(
                f"unetexp search takes Hydra overrides (docs/search.md): {flag} is "
                f"{OLD_SEARCH_FLAGS[flag]}"
            )
    return ["-m", "hydra/sweeper=search", *argv]


def _dispatch(argv: list[str]) -> int | None:
    """Run the command `argv` names (else the Hydra app); its exit code."""
    if argv and argv[0] == "search":
        from unetexp.errors import UnetexpError, exit_with_error

        try:
            argv = sys.argv[1:] = search_argv(argv[1:])
        except UnetexpError as exc:
            exit_with_error(exc)
    if argv and argv[0] in COMMANDS:
        from unetexp.commands.base import sigterm_as_interrupt

        sigterm_as_interrupt()  # `kill` ends a command as Ctrl-C does: one line, exit 130
        module, function = COMMANDS[argv[0]].split(":")
        return getattr(importlib.import_module(module), function)(argv[1:])
    if "--help" in argv or "-h" in argv:
        from unetexp.commands.help import print_help
        from unetexp.errors import UnetexpError, exit_with_error

        try:
            print_help([a for a in argv if not a.startswith("-")])
        except UnetexpError as exc:
            exit_with_error(exc)
        return 0
    from unetexp.commands.train import main as train_main

    train_main()
    return 0
