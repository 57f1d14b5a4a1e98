"""Fuzzing what the argument fuzzers never reach: file contents (truncated and corrupted npz,
npy, images, trimaps, YAML configs), output paths on an existing store, and interrupts.
Every case ends in success or one `unetexp: error:` line (exit 2, or 130 for Ctrl-C), never a
traceback, and never leaves half a file where a good one was."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import TINY, make_cfg, make_pets_folder, run_cli
from test_fuzz_commands import run_main

from unetexp.errors import UnetexpError

CASES = 40  # corruptions per file kind


def corrupt(data: bytes, rng: random.Random) -> bytes:
    """One seeded damage of the kinds a disk, a copy or a download does."""
    kind = rng.choice(["truncate", "flip", "zero", "append", "empty", "swap"])
    cut = rng.randrange(len(data))
    if kind == "truncate":
        return data[:cut]
    if kind == "flip":
        out = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        return bytes(out)
    if kind == "zero":
        return data[:cut] + bytes(min(rng.randint(1, 512), len(data) - cut)) + data[cut + 512 :]
    if kind == "append":
        return data + rng.randbytes(rng.randint(1, 64))
    if kind == "swap":
        return data[cut:] + data[:cut]
    return b""


def loads_or_fails_in_one_line(overrides: list[str]) -> bool:
    """Whether the data the overrides name loaded; any error but a UnetexpError fails."""
    from unetexp.data import open_dataset

    try:
        open_dataset(make_cfg(*overrides).data)
    except UnetexpError as exc:
        assert "\n" not in str(exc) and str(exc), repr(exc)
        return False
    return True


@pytest.mark.parametrize("compressed", [False, True])
def test_corrupted_npz_files_load_or_fail_in_one_line(tmp_path, compressed):
    good = tmp_path / "good.npz"
    rng_arrays = np.random.default_rng(0)
    save = np.savez_compressed if compressed else np.savez
    save(
        good,
        images=rng_arrays.integers(0, 256, (8, 16, 16, 3), dtype=np.uint8),
        masks=rng_arrays.integers(0, 2, (8, 16, 16), dtype=np.uint8),
    )
    data, rng, failed = good.read_bytes(), random.Random(f"npz-{compressed}"), 0
    for case in range(CASES):
        bad = tmp_path / f"bad{case}.npz"
        bad.write_bytes(corrupt(data, rng))
        failed += not loads_or_fails_in_one_line(["data=npz", f"data.path={bad}"])
    assert failed >= CASES // 2  # most damage is found (a zip's CRC), the rest is harmless


def test_corrupted_npy_pairs_load_or_fail_in_one_line(tmp_path):
    images, masks = tmp_path / "images.npy", tmp_path / "masks.npy"
    np.save(images, np.zeros((6, 16, 16, 3), np.uint8))
    np.save(masks, np.ones((6, 16, 16), np.uint8))
    rng, failed = random.Random("npy"), 0
    for _case in range(CASES):
        target = rng.choice([images, masks])
        good = target.read_bytes()
        target.write_bytes(corrupt(good, rng))
        failed += not loads_or_fails_in_one_line(
            ["data=seed_npy", f"data.images={images}", f"data.masks={masks}"]
        )
        target.write_bytes(good)
    assert failed >= CASES // 2


def test_corrupted_photographs_and_trimaps_are_skipped_or_stop_prepare_in_one_line(
    tmp_path, capsys
):
    rng = random.Random("prepare")
    for case in range(CASES // 4):  # each case: a few damaged files among good ones
        root = make_pets_folder(tmp_path / f"pets{case}", extra=4)
        files = sorted((root / "images").glob("*.jpg")) + sorted(
            (root / "annotations" / "trimaps").glob("*.png")
        )
        for path in rng.sample(files, 3):
            path.write_bytes(corrupt(path.read_bytes(), rng))
        out = tmp_path / f"out{case}" / "pets.npz"
        code, err = run_main("data", ["prepare", "--source", str(root), "--out", str(out)], capsys)
        assert code in (0, 2) and "Traceback" not in err, err[-2000:]
        if code == 0:
            with np.load(out) as built:  # whole: every array readable
                assert len(built["images"]) == len(built["masks"]) >= 1
        else:
            assert err.strip().splitlines()[-1].startswith("unetexp: error: "), err
            assert not out.exists()


def test_corrupted_images_are_skipped_by_predict_in_one_line(tmp_path, capsys):
    from PIL import Image

    from unetexp.training.model import build_unet

    model = tmp_path / "unet.keras"
    build_unet(depth=1, convs=1, bottleneck=8, input_shape=(16, 16, 3)).save(model)
    folder, rng = tmp_path / "images", random.Random("predict")
    folder.mkdir()
    Image.fromarray(np.full((20, 24, 3), 200, np.uint8)).save(folder / "good.png")
    for case in range(CASES // 2):
        encoded = tmp_path / "x.png"
        kind = "PNG" if case % 2 else "JPEG"
        Image.fromarray(np.full((20 + case, 24, 3), case, np.uint8)).save(encoded, kind)
        (folder / f"bad{case}.{kind.lower()}").write_bytes(corrupt(encoded.read_bytes(), rng))
    code, err = run_main("predict", [str(model), str(folder), "--out", str(tmp_path / "p")], capsys)
    assert code == 0 and "Traceback" not in err, err[-3000:]
    assert (tmp_path / "p" / "good_mask.png").is_file()


YAML_BITS = ["model:", "  depth: ", "3", "x", "[", "]", "{", "}", ": :", "- a", "&a", "*a", "'",
             '"', "\t", "${model.depth}", "${oc.env:X}", "???", "null", "1e999", "defaults:",
             "  - /model/depth: 9", "# @package _global_", "train:", "  epochs: ", "-1", "é"]  # fmt: skip


def test_corrupted_experiment_configs_fail_in_one_line(tmp_path):
    """A user's own `+experiment=mine` in --config-dir, written wrong in seeded random ways."""
    from unetexp.config.jobs import check_command_line

    rng, refused = random.Random("yaml"), 0
    for case in range(CASES):
        folder = tmp_path / f"conf{case}" / "experiment"
        folder.mkdir(parents=True)
        lines = ["".join(rng.choices(YAML_BITS, k=rng.randint(1, 4))) for _ in range(5)]
        (folder / "mine.yaml").write_text("\n".join(lines))
        try:
            check_command_line(["--config-dir", str(folder.parent), "+experiment=mine"])
        except UnetexpError as exc:
            assert "\n" not in str(exc), repr(exc)
            refused += 1
    assert refused >= CASES // 2


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """An existing store: one two-job sweep, as the commands meet it in real use."""
    folder = tmp_path_factory.mktemp("swept")
    uri = f"sqlite:///{folder / 'mlruns' / 'mlflow.db'}"
    done = run_cli("-m", "model.depth=1,2", *TINY, f"tracking.uri={uri}", cwd=folder)
    assert done.returncode == 0, done.stderr[-3000:]
    return folder, uri


ODD_OUTPUTS = ["", ".", "/", "/proc/x.csv", "/dev/null/x.csv", "taken.txt/x.csv", "deep/a/b/c.csv",
               "é x/文字.csv", "x" * 300, "ok.csv", "ok.csv/", "-", "/nonexistent-root/x.csv"]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("command", ["export", "compare", "report"])
def test_odd_output_paths_on_an_existing_store_end_in_one_line(
    swept, command, tmp_path, monkeypatch, capsys
):
    folder, uri = swept
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    Path("taken.txt").write_text("a file, not a folder")
    assert run_main("export", ["-o", "runs.csv"], capsys)[0] == 0
    for path in ODD_OUTPUTS:
        Path("ok.csv").write_text("kept")
        argv = {
            "export": ["-o", path],
            "compare": ["runs.csv", "study:depth", "--csv", path],
            "report": ["--out", path, "--no-log"],
        }[command]
        code, err = run_main(command, argv, capsys)
        assert code in (0, 2) and "Traceback" not in err, (path, err[-2000:])
        if code == 2:
            assert err.strip().splitlines()[-1].startswith("unetexp: error: "), (path, err)
            assert Path("ok.csv").read_text() == "kept", path  # nothing lost on an error
            assert not list(Path().rglob("*partial*")), path
        elif command != "report" and path not in ("", "-"):
            assert len(pd.read_csv(path)) >= 1, path  # a whole table


def start(argv: list[str], cwd: Path) -> subprocess.Popen:
    """`python -m unetexp ARGV` as a terminal's foreground job: its own process group, SIGINT
    at its default (a shell starts background jobs ignoring it, which Python then keeps)."""
    cwd.mkdir()
    return subprocess.Popen(
        [sys.executable, "-m", "unetexp", *argv],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


@pytest.mark.slow
def test_ctrl_c_at_any_moment_ends_a_command_in_one_line(swept, tmp_path):
    """SIGINT to the process group (as a terminal sends it) at seeded moments of export,
    report and data prepare, within the time each takes here: each says `unetexp:
    interrupted` with exit 130 (or had just finished), and leaves no half-written file."""
    folder, uri = swept
    root = make_pets_folder(tmp_path / "pets", extra=30)
    commands = {
        "export": ["export", "--tracking-uri", uri, "-o", "out/runs.csv"],
        "report": ["report", "--tracking-uri", uri, "--out", "out/report", "--no-log"],
        "prepare": ["data", "prepare", "--source", str(root), "--out", "out/pets.npz"],
    }
    rng, interrupted, tries = random.Random("ctrl-c"), 0, 0
    for name, argv in commands.items():
        began = time.monotonic()
        whole = start(argv, tmp_path / f"{name}-whole")
        assert whole.wait(timeout=300) == 0, whole.communicate()[1][-2000:]
        took = time.monotonic() - began
        for case in range(4):
            proc = start(argv, tmp_path / f"{name}{case}")
            try:
                proc.wait(timeout=rng.uniform(0.05, 0.9) * took)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGINT)
            err = proc.communicate(timeout=120)[1]
            tries += 1
            assert "Traceback" not in err, (name, err[-3000:])
            # -SIGINT: the signal came as the interpreter shut down, after the command's work
            # and after Python's own handler went: killed silently, its file whole or absent
            assert proc.returncode in (0, 130, -signal.SIGINT), (name, proc.returncode, err)
            if proc.returncode == 130:
                interrupted += 1
                assert err.strip().splitlines()[-1] == "unetexp: interrupted", err
            if proc.returncode != 0:
                assert not list((tmp_path / f"{name}{case}").rglob("*partial*"))
    assert interrupted >= tries // 2, f"{interrupted} of {tries} interrupted: moments too late"
