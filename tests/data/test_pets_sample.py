"""`unetexp data prepare` on real photographs: the 26 official JPEGs and trimaps of
../shared/data/pets-sample, as a folder and as archives packed from it, then a 1-epoch run.
Skipped, with the reason, where ../shared is absent. Also: the built study file matches the copy
in ../shared/data when both that copy and the official archives are there."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import PROJECT, make_pets_archives, run_cli, search_runs

from unetexp.data.pets import STUDY, build
from unetexp.data.pets_files import find_source

SHARED_DATA = PROJECT.parent / "shared" / "data"
SAMPLE = SHARED_DATA / "pets-sample"
needs_sample = pytest.mark.skipif(
    not (SAMPLE / "images").is_dir(),
    reason=f"{SAMPLE} is absent (real photographs shared beside the project)",
)
CATS = {"Abyssinian", "Bengal", "Bombay", "British_Shorthair", "Maine_Coon"}


@pytest.fixture(scope="module")
def sample_npz(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample") / "sample64.npz"
    result = run_cli(
        "data",
        "prepare",
        "--source",
        str(SAMPLE),
        "--fraction",
        "1",
        "--out",
        str(out),
        cwd=out.parent,
    )
    assert result.returncode == 0, result.stderr
    return out


@needs_sample
def test_the_real_sample_prepares_completely(sample_npz):
    with np.load(sample_npz) as data:
        images, masks, names = data["images"], data["masks"], data["names"].tolist()
        species, breed = data["species"].tolist(), data["breed"].tolist()
    assert images.shape == (26, 64, 64, 3) and masks.shape == (26, 64, 64, 1)
    assert names == sorted(p.stem for p in (SAMPLE / "images").glob("*.jpg"))
    assert species.count("cat") == 18 and species.count("dog") == 8
    assert set(breed) == CATS | {"american_bulldog", "great_pyrenees"}
    assert all((s == "cat") == (b in CATS) for s, b in zip(species, breed, strict=False))
    pet_share = masks.reshape(26, -1).mean(axis=1)
    assert (pet_share > 0.05).all() and (
        pet_share < 0.95
    ).all()  # every mask has pet and background
    sidecar = json.loads(sample_npz.with_suffix(".json").read_text())
    assert sidecar["counts"]["skipped"] == 0 and sidecar["counts"]["written"] == 26


@needs_sample
def test_archives_packed_from_the_sample_give_the_same_arrays(sample_npz, tmp_path):
    images, annotations = make_pets_archives(SAMPLE, tmp_path)
    built = build(find_source([images, annotations]), **STUDY | {"fraction": 1}, workers=1)
    border = build(find_source([tmp_path]), size=64, fraction=1, mask="pet+border", workers=1)
    with np.load(sample_npz) as data:
        assert built.names == data["names"].tolist()
        np.testing.assert_array_equal(built.images, data["images"])
        np.testing.assert_array_equal(built.masks, data["masks"])
    assert (border.masks >= built.masks).all() and border.masks.sum() > 1.05 * built.masks.sum()


@needs_sample
def test_stratifying_the_sample_names_its_single_breeds(sample_npz, tmp_path, store):
    out = run_cli(
        "data=npz",
        f"data.path={sample_npz}",
        "data.stratify=breed",
        f"tracking.uri={store}",
        cwd=tmp_path,
    )
    assert (
        out.returncode == 2
        and "data.stratify=breed cannot split 26 images of 7 breeds" in out.stderr
    )
    assert "(smallest: Bengal, 1 images)" in out.stderr  # Bengal, Bombay, american_bulldog: 1 each


@needs_sample
@pytest.mark.slow
def test_one_epoch_on_the_real_sample(sample_npz, tmp_path, store):
    out = run_cli(
        "data=npz",
        f"data.path={sample_npz}",
        "train.epochs=1",
        f"tracking.uri={store}",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    runs = search_runs(store)
    assert runs["status"].tolist() == ["FINISHED"]
    assert (runs["params.data.n_train"].tolist(), runs["params.data.n_test"].tolist()) == (
        ["20"],
        ["6"],
    )
    assert 0.0 <= runs["metrics.test_dice"].iloc[0] <= 1.0


def _official_source():
    for where in (SHARED_DATA, SHARED_DATA / "oxford-iiit-pet"):
        if (where / "images.tar.gz").is_file() or (where / "images").is_dir():
            try:
                return find_source([where])
            except Exception:
                continue
    return None


@pytest.mark.skipif(
    not (SHARED_DATA / "oxford_pets_64_red.npz").is_file(),
    reason=f"no built copy of the study's dataset in {SHARED_DATA}",
)
def test_the_study_file_matches_the_shared_copy(tmp_path):
    """Built with --size 64 --fraction 0.1 --seed 0, the output is the shared copy, array for array."""
    source = _official_source()
    if source is None:
        pytest.skip(f"the official archives are not in {SHARED_DATA}: nothing to rebuild from")
    out = tmp_path / "oxford_pets_64_red.npz"
    result = run_cli(
        "data",
        "prepare",
        "--source",
        str(source.images.parent),
        "--out",
        str(out),
        cwd=tmp_path,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr
    with np.load(out) as ours, np.load(SHARED_DATA / "oxford_pets_64_red.npz") as shared:
        assert ours["names"].tolist() == shared["names"].tolist()
        for key in ("images", "masks"):
            np.testing.assert_array_equal(ours[key].reshape(shared[key].shape), shared[key])
