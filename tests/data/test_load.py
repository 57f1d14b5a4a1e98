"""Data loaders, the split, and every bad input: one line naming the file and the problem."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import write_npz
from omegaconf import OmegaConf

from unetexp.config.schema import DataConfig
from unetexp.data import open_dataset
from unetexp.data.load import PETS_FILE, Dataset, load_npz, load_seed_npy
from unetexp.data.split import split
from unetexp.data.synthetic import make_synthetic
from unetexp.errors import DataError


def data_cfg(**kwargs):
    return OmegaConf.structured(DataConfig(**kwargs))


def test_npz_loads_normalised_arrays(tmp_path):
    path = write_npz(tmp_path / "d.npz", n=6, size=16)
    ds = load_npz(path)
    assert ds.images.shape == (6, 16, 16, 3) and ds.images.dtype == np.float32
    assert 0.0 <= ds.images.min() and ds.images.max() <= 1.0 and ds.images.max() > 0.5
    assert ds.masks.shape == (6, 16, 16, 1) and set(np.unique(ds.masks)) <= {0.0, 1.0}
    assert ds.source == str(path)


def test_npz_accepts_masks_with_channel(tmp_path):
    masks = np.zeros((6, 16, 16, 1), np.uint8)
    assert load_npz(write_npz(tmp_path / "d.npz", n=6, masks=masks)).masks.shape == (6, 16, 16, 1)


def test_seed_npy_float_and_uint8(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.random((5, 16, 16, 3)).astype(
        np.float32
    )  # as the study saved them: floats in [0, 1]
    masks = rng.integers(0, 2, (5, 16, 16, 1)).astype(np.float32)
    np.save(tmp_path / "x.npy", images)
    np.save(tmp_path / "y.npy", masks)
    ds = load_seed_npy(tmp_path / "x.npy", tmp_path / "y.npy")
    np.testing.assert_allclose(ds.images, images)
    np.save(tmp_path / "x8.npy", (images * 255).astype(np.uint8))
    ds8 = load_seed_npy(tmp_path / "x8.npy", tmp_path / "y.npy")
    assert ds8.images.max() <= 1.0 and np.abs(ds8.images - images).max() < 1 / 255 + 1e-6


@pytest.mark.parametrize(
    "arrays,message",
    [
        ({"masks": None}, "missing key(s) masks (found: images)"),
        ({"images": np.zeros((8, 16, 16, 3), np.float32)}, "images must be uint8, got float32"),
        (
            {"images": np.zeros((8, 16, 16), np.uint8)},
            "images must have shape (N, H, W, 3), got (8, 16, 16)",
        ),
        (
            {"masks": np.zeros((8, 16, 16, 2), np.uint8)},
            "masks must have shape (N, H, W) or (N, H, W, 1)",
        ),
        ({"masks": np.zeros((7, 16, 16), np.uint8)}, "8 images but 7 masks"),
        ({"masks": np.zeros((8, 8, 8), np.uint8)}, "images are 16x16 but masks are 8x8"),
        (
            {"masks": np.full((8, 16, 16), 255, np.uint8)},
            "masks must be binary (0 or 1), found values [255]",
        ),
        (
            {"masks": np.full((8, 16, 16), np.nan, np.float32)},
            "masks contain NaN or infinite values",
        ),
    ],
)
def test_bad_npz_names_file_and_problem(tmp_path, arrays, message):
    path = write_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError) as info:
        load_npz(path)
    assert str(info.value).startswith(str(path)) and message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(DataError, match="nope.npz: data file not found"):
        load_npz(tmp_path / "nope.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="junk.npz: not a readable npz file"):
        load_npz(tmp_path / "junk.npz")
    with pytest.raises(DataError, match="x.npy: images file not found"):
        load_seed_npy(tmp_path / "x.npy", tmp_path / "y.npy")


def test_pickled_arrays_are_refused(tmp_path):
    np.save(tmp_path / "x.npy", np.array([{"a": 1}] * 4, dtype=object), allow_pickle=True)
    np.save(tmp_path / "y.npy", np.zeros((4, 16, 16, 1)))
    with pytest.raises(DataError, match="x.npy: cannot read images without pickle"):
        load_seed_npy(tmp_path / "x.npy", tmp_path / "y.npy")


def test_nan_images_in_seed_npy(tmp_path):
    images = np.full((4, 16, 16, 3), np.nan, np.float32)
    np.save(tmp_path / "x.npy", images)
    np.save(tmp_path / "y.npy", np.zeros((4, 16, 16, 1), np.float32))
    with pytest.raises(DataError, match="images contain NaN"):
        load_seed_npy(tmp_path / "x.npy", tmp_path / "y.npy")


def test_pets_reads_the_data_root(tmp_path, monkeypatch):
    write_npz(tmp_path / PETS_FILE, n=10, size=64)
    monkeypatch.setenv("UNETEXP_DATA_DIR", str(tmp_path))
    assert len(open_dataset(data_cfg(name="pets")).images) == 10


def test_pets_missing_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("UNETEXP_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError) as info:
        open_dataset(data_cfg(name="pets", download=False))
    text = str(info.value)
    assert (
        str(tmp_path / PETS_FILE) in text
        and "UNETEXP_DATA_DIR" in text
        and "data=synthetic" in text
    )


def test_synthetic_is_deterministic_and_binary():
    a_images, a_masks = make_synthetic(12, 32)
    b_images, b_masks = make_synthetic(12, 32)
    np.testing.assert_array_equal(a_images, b_images)
    np.testing.assert_array_equal(a_masks, b_masks)
    assert a_images.shape == (12, 32, 32, 3) and a_masks.shape == (12, 32, 32, 1)
    assert set(np.unique(a_masks)) == {0.0, 1.0}
    assert 0.1 < a_masks.mean() < 0.6  # objects and background both present


def test_synthetic_objects_differ_from_background():
    """A learnable stand-in: pixel colour alone separates most object pixels."""
    images, masks = make_synthetic(40, 32)
    warmth = images[..., 0] - images[..., 2]
    obj, bg = warmth[masks[..., 0] == 1], warmth[masks[..., 0] == 0]
    assert obj.mean() - bg.mean() > 0.3


def test_split_is_seeded_and_matches_the_study_sizes():
    images = np.arange(738, dtype=np.float32).reshape(738, 1, 1, 1) * np.ones(
        (1, 2, 2, 3), np.float32
    )
    ds = Dataset(images, np.zeros((738, 2, 2, 1), np.float32), "test")
    s0, s0_again, s1 = split(ds, 0.2, 0.0, 0), split(ds, 0.2, 0.0, 0), split(ds, 0.2, 0.0, 1)
    assert (len(s0.x_train), len(s0.x_test)) == (590, 148)
    np.testing.assert_array_equal(s0.x_test, s0_again.x_test)
    assert not np.array_equal(s0.x_test, s1.x_test)
    assert s0.x_val is s0.x_test and not s0.separate_val  # the study validates on the test split


def test_val_fraction_carves_validation_from_train():
    images = np.arange(100, dtype=np.float32).reshape(100, 1, 1, 1) * np.ones(
        (1, 2, 2, 3), np.float32
    )
    s = split(Dataset(images, np.zeros((100, 2, 2, 1), np.float32), "t"), 0.2, 0.25, 0)
    assert s.sizes() == {"n_train": 60, "n_val": 20, "n_test": 20} and s.separate_val
    ids = [set(a[:, 0, 0, 0].tolist()) for a in (s.x_train, s.x_val, s.x_test)]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
