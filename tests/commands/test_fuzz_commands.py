"""Fuzzing each command's arguments: seeded random argv lists through the command's `main`,
in-process; every one ends with exit code 0 or 2 and, on 2, one `unetexp: error:` line (the
last of stderr), never another exception or a traceback."""

from __future__ import annotations

import importlib
import random

import pytest

from unetexp.cli import COMMANDS

PER_COMMAND = 40
ODD = [
    "",
    "-",
    "--",
    "x",
    "a b",
    "é文字",
    "nan",
    "-1",
    "0",
    "1e400",
    "/nonexistent/é x.csv",
    "study:nope",
    "study",
    "study:depth",
    "sqlite:////nonexistent/dir/m.db",
    "http://127.0.0.1:9",
    "0123abcd",
    "'",
    "${x}",
    "%s",
    "\\",
    "x" * 300,
]
OPTIONS = {
    "export": [
        "--aggregate",
        "--only-changed",
        "-o",
        "--out",
        "--experiment",
        "--parent",
        "--sweep",
        "--tracking-uri",
        "--help",
    ],
    "compare": ["--metric", "--only-changed", "--csv", "test_accuracy", "test_dice"],
    "report": ["-o", "--out", "--no-log", "--experiment", "--parent", "--sweep", "--tracking-uri"],
    "predict": ["--out", "--threshold", "--tracking-uri", "model.keras", "."],
    "data": [
        "prepare",
        "prepare",
        "--source",
        "--download",
        "--archive-dir",
        "--sha256",
        "images.tar.gz=00",
        "--size",
        "--fraction",
        "--seed",
        "--mask",
        "pet",
        "--out",
        "--workers",
        "--preview",
        "x.png",
        "--layout",
        "folder",
        "--images",
        "--masks",
        "--mask-values",
        "1,3",
        "--strict",
        "bogus",
    ],
}


def random_argv(rng: random.Random, command: str) -> list[str]:
    return [rng.choice(OPTIONS[command] + ODD) for _ in range(rng.randint(0, 5))]


def run_main(command: str, argv: list[str], capsys) -> tuple[int, str]:
    """(exit code, stderr) of `unetexp COMMAND ARGV` run in this process."""
    module, function = COMMANDS[command].split(":")
    try:
        code = getattr(importlib.import_module(module), function)(argv)
    except SystemExit as exc:
        code = exc.code
    return int(code or 0), capsys.readouterr().err


@pytest.mark.parametrize("command", sorted(OPTIONS))
def test_random_arguments_end_in_exit_0_or_one_error_line(command, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # whatever a command writes stays here
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    monkeypatch.setenv("UNETEXP_DATA_DIR", str(tmp_path / "data"))
    rng = random.Random(f"{command}-14")
    for _ in range(PER_COMMAND):
        argv = random_argv(rng, command)
        code, err = run_main(command, argv, capsys)
        assert code in (0, 2), (argv, code, err[-2000:])
        assert "Traceback" not in err, (argv, err[-2000:])
        if code == 2:  # progress lines (a search's) may come first: one error, the last line
            lines = err.strip().splitlines()
            assert lines[-1].startswith("unetexp: error: "), (argv, err)
            assert sum(line.startswith("unetexp: error: ") for line in lines) == 1, (argv, err)
