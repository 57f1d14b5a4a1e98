"""The command line as a user meets it: fast commands, and bad input reported in one line."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TINY, heavy_imports, run_cli, run_with_stdout_closed, write_npz

from unetexp.commands.base import OUTPUT_CLOSED_EXIT


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--cfg", "job"],
        ["--cfg", "hydra"],
        ["model.depth=0", "data=synthetic"],
        ["export", "--help"],
        ["compare", "--help"],
        ["report", "--help"],
    ],
)
def test_commands_that_do_not_train_never_import_tensorflow(args, tmp_path):
    assert "tensorflow" not in heavy_imports(*args, cwd=tmp_path)


@pytest.mark.parametrize(
    "args, buffered",
    [
        *[
            (args, False)
            for args in (
                ["--help"],
                ["--cfg", "job"],
                ["export", "--help"],
                ["compare", "--help"],
                ["report", "--help"],
                ["predict", "--help"],
                ["data", "prepare", "--help"],
            )
        ],
        (["--cfg", "job"], True),
        (["export", "--help"], True),
    ],
)
def test_a_closed_output_pipe_ends_quietly(args, buffered, tmp_path):
    """Unbuffered, the failing write is Hydra's, argparse's or ours; buffered, the last flush's."""
    code, stderr = run_with_stdout_closed(*args, cwd=tmp_path, buffered=buffered)
    assert (code, stderr) == (OUTPUT_CLOSED_EXIT, "") and OUTPUT_CLOSED_EXIT == 141


def test_help_lists_the_config_groups(tmp_path):
    out = run_cli("--help", cwd=tmp_path)
    assert out.returncode == 0
    for group in (
        "model/depth",
        "model/convs",
        "model/upsample",
        "model/bottleneck",
        "loss",
        "data",
    ):
        assert group in out.stdout


def test_console_script_and_any_working_directory(tmp_path):
    script = Path(sys.executable).parent / "unetexp"  # installed beside this interpreter
    assert script.exists(), "the unetexp console script is not installed"
    out = subprocess.run(
        [str(script), "--cfg", "job", "model.depth=4"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and "depth: 4" in out.stdout


def assert_one_line_error(out, *fragments: str) -> None:
    assert out.returncode == 2, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("unetexp: error: ") and "Traceback" not in out.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize(
    "args,fragments",
    [
        (["model.depth=0"], ["model.depth=0", "1..12"]),
        (["seed=-1"], ["seed=-1", "0..4294967295"]),
        (["seed=abc"], ["seed=abc", "could not be converted to Integer"]),
        (["+model.foo=1"], ["model.foo is not a key of the config"]),
        (["model.depth=7"], ["model.depth=7 is too deep for 64x64", "allowed depth: 1..6"]),
        (["model.bottleneck=100"], ["model.bottleneck=100", "multiple of 2**model.depth = 8"]),
        (["model.convs=0"], ["model.convs=0"]),
        (["model.upsample=nearest"], ["model.upsample='nearest'", "transpose, upsampling"]),
        (["loss.name=focal"], ["loss.name='focal'", "bce, dice, bce_dice"]),
        (["loss.alpha=2"], ["loss.alpha=2.0", "[0, 1]"]),
        (["train.epochs=0"], ["train.epochs=0", "1.."]),
    ],
)
def test_bad_config_values(args, fragments, tmp_path, store):
    out = run_cli("data=synthetic", f"tracking.uri={store}", *args, cwd=tmp_path)
    assert_one_line_error(out, *fragments)
    assert not (tmp_path / "mlruns").exists()  # rejected before any run was created


def test_bad_data_files(tmp_path, store):
    bad = write_npz(tmp_path / "bad.npz", masks=None)
    out = run_cli("data=npz", f"data.path={bad}", f"tracking.uri={store}", cwd=tmp_path)
    assert_one_line_error(out, str(bad), "missing key(s) masks")
    out = run_cli(
        "data=npz", f"data.path={tmp_path / 'none.npz'}", f"tracking.uri={store}", cwd=tmp_path
    )
    assert_one_line_error(out, "none.npz: data file not found")


def test_missing_pets_dataset(tmp_path, store):
    """Offline (nothing listens on port 9), the first run of data=pets fails in one line."""
    out = run_cli(
        "data=pets",
        f"tracking.uri={store}",
        cwd=tmp_path,
        env={"UNETEXP_DATA_DIR": str(tmp_path), "UNETEXP_PETS_URL": "http://127.0.0.1:9/"},
    )
    assert_one_line_error(out, str(tmp_path / "oxford_pets_64_red.npz"), "UNETEXP_DATA_DIR")
    out = run_cli(
        "data=pets",
        f"tracking.uri={store}",
        "data.download=false",
        cwd=tmp_path,
        env={"UNETEXP_DATA_DIR": str(tmp_path)},
    )
    assert_one_line_error(out, str(tmp_path / "oxford_pets_64_red.npz"), "data.download=false")


def test_unreachable_tracking_server_fails_fast(tmp_path):
    start = time.monotonic()
    out = run_cli(*TINY, "tracking.uri=http://127.0.0.1:9", cwd=tmp_path)
    assert_one_line_error(out, "tracking.uri=http://127.0.0.1:9", "unreachable")
    assert time.monotonic() - start < 60


@pytest.mark.parametrize("launcher", ["basic", "joblib", "ray"])
def test_a_bad_job_stops_the_sweep_before_anything_trains(tmp_path, store, launcher):
    """Job 1 is invalid: the sweep stops before job 0 trains, with one line naming job 1's
    overrides, whichever launcher would run the jobs; no run, not even the parent."""
    out = run_cli(
        "-m",
        f"hydra/launcher={launcher}",
        *TINY,
        "model.depth=1,5",
        f"tracking.uri={store}",
        cwd=tmp_path,
    )
    assert out.returncode == 2, out.stderr[-3000:]
    line = out.stderr.strip()  # the job's overrides as Hydra lists them (":" escaped)
    assert line.startswith(f"unetexp: error: job ({' '.join(TINY)} model.depth=5 tracking.uri=")
    assert line.endswith(
        "): model.depth=5 is too deep for 16x16 images from data.size: the size "
        "must be divisible by 2**depth (allowed depth: 1..4)"
    )
    assert "\n" not in line
    assert not Path(store[len("sqlite:///") :]).exists() and not (tmp_path / "multirun").exists()


def test_multirun_and_cfg_together_are_one_line(tmp_path):
    out = run_cli("-m", "--cfg", "job", cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.strip() == (
        "unetexp: error: use only one of -m/--multirun, -c/--cfg, -i/--info, -r/--run, "
        "--shell-completion"
    )
