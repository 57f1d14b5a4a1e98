"""The first run of data=pets builds oxford_pets_64_red.npz by itself, once, from the official
archives in the data root, or downloads them first with data.download=true (never unasked)."""
from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest
from omegaconf import OmegaConf

from conftest import run_cli
from petsfixture import make_pets_archives, make_pets_folder, serve_files
from unetexp.data import download
from unetexp.config.schema import DataConfig
from unetexp.data.load import PETS_FILE, load_dataset
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
    dataset = load_dataset(pets_cfg(), depth=3)
    err = capsys.readouterr().err
    assert "oxford_pets_64_red.npz not found: building it once" in err and "decoding 7 pairs" in err
    sidecar = json.loads((root / PETS_FILE).with_suffix(".json").read_text())
    assert sidecar["options"] == {"size": 64, "fraction": 0.1, "seed": 0, "mask": "pet"}
    assert sidecar["counts"]["selected"] == 7 and len(dataset.images) == sidecar["counts"]["written"] >= 4
    assert dataset.images.shape[1:] == (64, 64, 3) and dataset.breed is not None
    stamp = (root / PETS_FILE).stat().st_mtime_ns
    assert len(load_dataset(pets_cfg(), depth=3).images) == len(dataset.images)
    assert "building" not in capsys.readouterr().err and (root / PETS_FILE).stat().st_mtime_ns == stamp
    # the CLI with the same defaults writes the same arrays
    again = tmp_path / "again.npz"
    assert run_cli("data", "prepare", "--out", str(again), cwd=tmp_path,
                   env={"UNETEXP_DATA_DIR": str(root)}).returncode == 0
    with np.load(again) as a, np.load(root / PETS_FILE) as b:
        assert all(np.array_equal(a[k], b[k]) for k in b.files)


def test_missing_pets_file_says_how_to_build_it(tmp_path, monkeypatch):
    monkeypatch.setenv("UNETEXP_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError) as info:
        load_dataset(pets_cfg(), depth=3)
    text = str(info.value)
    for fragment in (str(tmp_path / PETS_FILE), "unetexp data prepare --source DIR", "--download",
                     "data.download=true", "UNETEXP_DATA_DIR", "data=synthetic"):
        assert fragment in text
    assert "\n" not in text and not os.listdir(tmp_path)


def test_first_run_of_data_pets_can_download(tmp_path, monkeypatch):
    """data.download=true: the archives land in the data root, then the study file is built."""
    images, annotations = make_pets_archives(make_pets_folder(tmp_path / "src", extra=60), tmp_path / "a")
    files = {p.name: p.read_bytes() for p in (images, annotations)}
    for name, data in files.items():  # the fixture archives stand in for the official ones
        monkeypatch.setitem(download.ARCHIVES, name, {"bytes": len(data),
                                                      "sha256": hashlib.sha256(data).hexdigest()})
    root = tmp_path / "root"
    monkeypatch.setenv("UNETEXP_DATA_DIR", str(root))
    cfg = OmegaConf.structured(DataConfig(name="pets"))
    with serve_files(files) as server:
        monkeypatch.setenv(download.URL_ENV, server["url"])
        with pytest.raises(DataError, match="data.download=true"):
            load_dataset(cfg, depth=3)
        assert server["requests"] == []  # never without asking
        cfg.download = True
        dataset = load_dataset(cfg, depth=3)
    assert len(dataset.images) >= 4 and (root / PETS_FILE).is_file()
    assert sorted(p.name for p in root.glob("*.tar.gz")) == ["annotations.tar.gz", "images.tar.gz"]
    assert [name for name, _ in server["requests"]] == ["images.tar.gz", "annotations.tar.gz"]
