"""The first run of data=pets gets the study's data as Keras's datasets do: it builds
oxford_pets_64_red.npz by itself, once, from the official archives in the data root, or
downloads them first (the default; data.download=false forbids it). Offline: one line that
offers data=synthetic and data=npz. Downloads come from a local HTTP pets_server on 127.0.0.1."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from conftest import make_pets_archives, make_pets_folder, run_cli, search_runs
from omegaconf import OmegaConf

from unetexp.config.schema import Config, DataConfig
from unetexp.data import download, open_dataset
from unetexp.data.load import PETS_FILE
from unetexp.errors import DataError


def pets_cfg(**kwargs):
    return OmegaConf.structured(DataConfig(name="pets", **kwargs))


def test_first_run_of_data_pets_builds_its_file_once(tmp_path, monkeypatch, capsys):
    """The official archives in the data root: data=pets builds oxford_pets_64_red.npz from them,
    with the study's recipe, and reads it from then on."""
    folder = make_pets_folder(tmp_path / "src", extra=60)
    root = tmp_path / "root"
    make_pets_archives(folder, root)
    monkeypatch.setenv("UNETEXP_DATA_DIR", str(root))
    dataset = open_dataset(pets_cfg())
    err = capsys.readouterr().err
    assert "oxford_pets_64_red.npz not found: building it once" in err and "decoding 7 pairs" in err
    sidecar = json.loads((root / PETS_FILE).with_suffix(".json").read_text())
    assert sidecar["options"] == {"size": 64, "fraction": 0.1, "seed": 0, "mask": "pet"}
    assert (
        sidecar["counts"]["selected"] == 7
        and len(dataset.images) == sidecar["counts"]["written"] >= 4
    )
    assert dataset.images.shape[1:] == (64, 64, 3) and dataset.breed is not None
    stamp = (root / PETS_FILE).stat().st_mtime_ns
    assert len(open_dataset(pets_cfg()).images) == len(dataset.images)
    assert (
        "building" not in capsys.readouterr().err and (root / PETS_FILE).stat().st_mtime_ns == stamp
    )
    # the CLI with the same defaults writes the same arrays
    again = tmp_path / "again.npz"
    assert (
        run_cli(
            "data",
            "prepare",
            "--out",
            str(again),
            cwd=tmp_path,
            env={"UNETEXP_DATA_DIR": str(root)},
        ).returncode
        == 0
    )
    with np.load(again) as a, np.load(root / PETS_FILE) as b:
        assert all(np.array_equal(a[k], b[k]) for k in b.files)


def test_missing_pets_file_says_how_to_build_it(tmp_path, monkeypatch):
    monkeypatch.setenv("UNETEXP_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError) as info:
        open_dataset(pets_cfg(download=False))
    text = str(info.value)
    for fragment in (
        str(tmp_path / PETS_FILE),
        "unetexp data prepare --source DIR",
        "--download",
        "data.download=true",
        "UNETEXP_DATA_DIR",
        "data=synthetic",
    ):
        assert fragment in text
    assert "\n" not in text and not os.listdir(tmp_path)


@pytest.fixture
def official(archives, monkeypatch):
    """The fixture archives stand in for the official ones (sizes and checksums)."""
    for name, data in archives["files"].items():
        monkeypatch.setitem(
            download.ARCHIVES, name, {"bytes": len(data), "sha256": archives["sha256"][name]}
        )
    return archives


def test_first_run_of_data_pets_downloads_by_default(tmp_path, monkeypatch, official, pets_server):
    """No flag: the archives land in the data root, then the study file is built; an explicit
    data.download=false forbids the download."""
    root = tmp_path / "root"
    monkeypatch.setenv("UNETEXP_DATA_DIR", str(root))
    monkeypatch.setenv(download.URL_ENV, pets_server["url"])
    cfg = OmegaConf.structured(DataConfig(name="pets", download=False))
    with pytest.raises(DataError, match="data.download=false forbids"):
        open_dataset(cfg)
    assert pets_server["requests"] == []  # never when forbidden
    assert OmegaConf.structured(DataConfig()).download is True  # the default
    cfg.download = True
    dataset = open_dataset(cfg)
    assert len(dataset.images) >= 4 and (root / PETS_FILE).is_file()
    assert sorted(p.name for p in root.glob("*.tar.gz")) == ["annotations.tar.gz", "images.tar.gz"]
    assert [name for name, _ in pets_server["requests"]] == ["images.tar.gz", "annotations.tar.gz"]


def test_offline_first_run_says_what_failed_in_one_line(tmp_path):
    """`python -m unetexp data=pets` with nothing in the data root and no network: one line naming the
    failed download and the two ways to train without it; no run is left behind."""
    store = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    out = run_cli(
        "data=pets",
        f"tracking.uri={store}",
        cwd=tmp_path,
        env={"UNETEXP_DATA_DIR": str(tmp_path / "root"), download.URL_ENV: "http://127.0.0.1:9/"},
    )
    lines = [line for line in out.stderr.splitlines() if line.startswith("unetexp: error:")]
    assert out.returncode == 2 and len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    for fragment in (
        str(tmp_path / "root" / PETS_FILE),
        "its download failed",
        "cannot download http://127.0.0.1:9/images.tar.gz",
        "data=synthetic",
        "data=npz data.path=FILE.npz",
    ):
        assert fragment in lines[0]
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "root" / PETS_FILE).exists()


@pytest.mark.slow
def test_a_default_run_downloads_builds_once_then_trains(
    tmp_path, monkeypatch, official, pets_server
):
    """The whole first run of data=pets, as `python -m unetexp data=pets train.epochs=1` does it: the
    download, one build, one FINISHED MLflow run on the built file."""
    from unetexp.experiment import run_experiment

    root, store = tmp_path / "root", f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    monkeypatch.setenv("UNETEXP_DATA_DIR", str(root))
    monkeypatch.setenv(download.URL_ENV, pets_server["url"])
    cfg = OmegaConf.structured(Config())
    cfg.data.name = "pets"
    cfg.train.epochs, cfg.model.convs, cfg.model.bottleneck = 1, 1, 32
    cfg.tracking.uri = store
    result = run_experiment(cfg)
    assert (root / PETS_FILE).is_file() and not result["skipped"]
    assert [name for name, _ in pets_server["requests"]] == ["images.tar.gz", "annotations.tar.gz"]
    runs = search_runs(store)
    assert list(runs["status"]) == ["FINISHED"]
    assert runs["tags.data_source"].iloc[0] == str(root / PETS_FILE)
