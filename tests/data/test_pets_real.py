"""data=pets_real, the default: the bundled 714 real photographs, read from the installed package
with their license beside them, never downloaded; the one data file in git and in the wheel."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import pytest
from conftest import PROJECT, make_cfg, run_cli
from omegaconf import OmegaConf

import unetexp
from unetexp.config.schema import DataConfig
from unetexp.data import open_dataset, pets_real
from unetexp.errors import DataError
from unetexp.tracking.datasets import DIGEST_CHARS

BUNDLED = "src/unetexp/data/bundled/pets_real_64.npz"
DATA_SUFFIXES = (".npz", ".npy", ".tar.gz", ".h5", ".jpg", ".jpeg", ".tif", ".mat")


def test_the_default_is_the_bundled_set_read_from_the_package(monkeypatch, tmp_path):
    monkeypatch.setenv("UNETEXP_DATA_DIR", str(tmp_path / "empty"))  # nothing there, no server
    cfg = make_cfg()
    assert cfg.data.name == "pets_real"
    dataset = open_dataset(cfg.data)
    assert dataset.images.shape == (714, 64, 64, 3) and dataset.masks.shape == (714, 64, 64, 1)
    assert dataset.breed is not None and len(set(dataset.breed.tolist())) == 32
    assert dataset.source == "bundled:pets_real_64.npz"  # the same on every machine
    with resources.as_file(pets_real.bundled_file()) as path:
        assert path.parent.parent == Path(unetexp.__file__).parent / "data"
        assert dataset.sha256 == pets_real.SHA256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert dataset.sha256.startswith("295e24fc") and not (tmp_path / "empty").exists()


def test_its_license_and_provenance_sit_beside_it():
    folder = resources.files("unetexp.data").joinpath("bundled")
    license_text = folder.joinpath("LICENSE").read_text()
    assert (
        "Creative Commons Attribution-ShareAlike 4.0" in license_text and "Parkhi" in license_text
    )
    readme = folder.joinpath("README.md").read_text()
    assert pets_real.SHA256 in readme and "9281626a62066c09f278b9b41ac4bad3683d7541" in readme


def test_other_bytes_than_the_released_ones_stop_the_run(monkeypatch, tmp_path):
    damaged = tmp_path / "pets_real_64.npz"
    damaged.write_bytes(pets_real.bundled_file().read_bytes()[:-10] + b"0" * 10)
    monkeypatch.setattr(pets_real, "bundled_file", lambda: damaged)
    with pytest.raises(
        DataError, match=r"pets_real_64.npz: the bundled set's sha256 is .*reinstall"
    ):
        open_dataset(OmegaConf.structured(DataConfig(name="pets_real")))


def test_git_holds_one_data_file_the_bundled_set():
    if not (PROJECT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    files = subprocess.run(
        ["git", "ls-files"], cwd=PROJECT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert [f for f in files if f.lower().endswith(DATA_SUFFIXES)] == [BUNDLED]
    ignored = subprocess.run(
        ["git", "check-ignore", "data/x.npz", "src/unetexp/data/bundled/other.npz", "a.npy"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert ignored == ["data/x.npz", "src/unetexp/data/bundled/other.npz", "a.npy"]


@pytest.mark.slow
def test_the_wheel_contains_it(tmp_path):
    """`pip wheel .` on a copy of the project (its build folder stays out of the checkout)."""
    copy = tmp_path / "project"
    for name in ("pyproject.toml", "README.md"):
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT / name, copy / name)
    shutil.copytree(PROJECT / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "-w", "w"],
        cwd=copy,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (copy / "w").glob("unetexp-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        data = archive.read("unetexp/data/bundled/pets_real_64.npz")
    assert hashlib.sha256(data).hexdigest() == pets_real.SHA256
    assert {"unetexp/data/bundled/LICENSE", "unetexp/data/bundled/README.md"} <= set(names)
    assert [n for n in names if n.endswith(DATA_SUFFIXES)] == [
        "unetexp/data/bundled/pets_real_64.npz"
    ]


@pytest.mark.slow
def test_a_run_with_no_data_flag_trains_on_the_bundled_set(tmp_path, store):
    """`python -m unetexp model.depth=1 train.epochs=1`: no download (an empty data root, no
    server), one FINISHED run whose dataset is the bundled file, by its sha256."""
    import mlflow

    out = run_cli(
        "model.depth=1",
        "train.epochs=1",
        f"tracking.uri={store}",
        cwd=tmp_path,
        env={"UNETEXP_DATA_DIR": str(tmp_path / "root")},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    mlflow.set_tracking_uri(store)
    (run,) = mlflow.search_runs(experiment_names=["unetexp"], output_format="list")
    assert run.info.status == "FINISHED" and run.data.tags["data_count"] == "714"
    assert run.data.tags["data_sha256"] == pets_real.SHA256
    assert run.data.tags["data_source"] == "bundled:pets_real_64.npz"
    (found,) = run.inputs.dataset_inputs
    assert (
        found.dataset.name == "pets_real_64"
        and found.dataset.digest == pets_real.SHA256[:DIGEST_CHARS]
    )
    assert found.dataset.source_type == "code"
    assert (run.data.params["data.n_train"], run.data.params["data.n_test"]) == ("571", "143")
    assert not (tmp_path / "root").exists()
