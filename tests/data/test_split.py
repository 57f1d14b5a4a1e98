"""data.stratify=breed: every split keeps each breed's share; bad uses fail in one line."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from conftest import write_npz
from omegaconf import OmegaConf

from unetexp.config.schema import Config
from unetexp.config.validation import validate
from unetexp.data.load import Dataset, load_npz
from unetexp.data.split import split
from unetexp.errors import ConfigError, DataError


def dataset_with_breeds(counts: dict[str, int]) -> Dataset:
    breed = np.array([b for b, n in counts.items() for _ in range(n)])
    images = np.arange(len(breed), dtype=np.float32).reshape(-1, 1, 1, 1) * np.ones(
        (1, 2, 2, 3), np.float32
    )
    return Dataset(images, np.zeros((len(breed), 2, 2, 1), np.float32), "pets.npz", breed=breed)


def breeds_of(ds: Dataset, x: np.ndarray) -> Counter:
    return Counter(ds.breed[x[:, 0, 0, 0].astype(int)].tolist())


def test_breed_shares_are_kept_in_every_split():
    ds = dataset_with_breeds({"Abyssinian": 100, "beagle": 50, "pug": 30, "Sphynx": 20})
    s = split(ds, 0.2, 0.0, seed=0, stratify="breed")
    assert breeds_of(ds, s.x_test) == {"Abyssinian": 20, "beagle": 10, "pug": 6, "Sphynx": 4}
    assert s.x_val is s.x_test
    again = split(ds, 0.2, 0.0, seed=0, stratify="breed")
    np.testing.assert_array_equal(again.x_test, s.x_test)
    plain = split(ds, 0.2, 0.0, seed=0)
    assert breeds_of(ds, plain.x_test) != breeds_of(
        ds, s.x_test
    )  # seed 0 is not stratified by chance

    three = split(ds, 0.2, 0.25, seed=1, stratify="breed")
    assert three.sizes() == {"n_train": 120, "n_val": 40, "n_test": 40}
    assert breeds_of(ds, three.x_val) == {"Abyssinian": 20, "beagle": 10, "pug": 6, "Sphynx": 4}
    ids = [set(a[:, 0, 0, 0].tolist()) for a in (three.x_train, three.x_val, three.x_test)]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])


def test_unstratified_split_is_unchanged():
    """Splitting indices gives the same split as the arrays did before stratification existed."""
    from sklearn.model_selection import train_test_split

    ds = dataset_with_breeds({"a": 37, "b": 40})
    x_train, x_test = train_test_split(ds.images, test_size=0.2, random_state=5)
    s = split(ds, 0.2, 0.0, seed=5)
    np.testing.assert_array_equal(s.x_train, x_train)
    np.testing.assert_array_equal(s.x_test, x_test)


def test_stratify_needs_a_breed_array():
    ds = Dataset(
        np.zeros((10, 2, 2, 3), np.float32), np.zeros((10, 2, 2, 1), np.float32), "synthetic(...)"
    )
    with pytest.raises(DataError) as info:
        split(ds, 0.2, 0.0, 0, stratify="breed")
    assert str(info.value).startswith("synthetic(...): data.stratify=breed needs a `breed` array")


def test_a_breed_too_small_to_split_is_named():
    ds = dataset_with_breeds({"Abyssinian": 20, "pug": 1})
    with pytest.raises(DataError) as info:
        split(ds, 0.2, 0.0, 0, stratify="breed")
    text = str(info.value)
    assert text.startswith("pets.npz: data.stratify=breed cannot split 21 images of 2 breeds")
    assert "smallest: pug, 1 images" in text and "\n" not in text


def test_npz_breed_is_read_and_checked(tmp_path):
    good = write_npz(tmp_path / "g.npz", n=8, breed=np.array(["pug"] * 4 + ["Sphynx"] * 4))
    assert load_npz(good).breed.tolist() == ["pug"] * 4 + ["Sphynx"] * 4
    assert load_npz(write_npz(tmp_path / "n.npz", n=8)).breed is None
    bad = write_npz(tmp_path / "b.npz", n=8, breed=np.array(["pug"] * 3))
    with pytest.raises(DataError, match=r"b.npz: breed must be 8 strings, got <U3 \(3,\)"):
        load_npz(bad)


def test_stratify_config_values():
    cfg = OmegaConf.structured(Config)
    cfg.data.name = "synthetic"
    validate(cfg)  # null by default
    cfg.data.stratify = "breed"
    validate(cfg)
    cfg.data.stratify = "species"
    with pytest.raises(
        ConfigError, match="data.stratify='species' is invalid: must be null or one of breed"
    ):
        validate(cfg)


def test_the_cli_splits_by_breed(tmp_path, store):
    """The runner passes data.stratify to the split: a singleton breed is refused before any run."""
    from conftest import run_cli

    breed = np.array(["pug"] * 9 + ["Sphynx"])
    bad = write_npz(tmp_path / "bad.npz", n=10, breed=breed)
    out = run_cli(
        "data=npz", f"data.path={bad}", "data.stratify=breed", f"tracking.uri={store}", cwd=tmp_path
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert (
        "bad.npz: data.stratify=breed cannot split 10 images of 2 breeds (smallest: Sphynx"
        in out.stderr
    )
    assert not (tmp_path / "mlruns").exists()


@pytest.mark.slow
def test_training_with_a_stratified_split(tmp_path, store):
    from conftest import run_cli, search_runs

    good = write_npz(tmp_path / "good.npz", n=20, size=16, breed=np.array(["pug", "Sphynx"] * 10))
    out = run_cli(
        "data=npz",
        f"data.path={good}",
        "data.stratify=breed",
        "model.depth=1",
        "train.epochs=1",
        f"tracking.uri={store}",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    runs = search_runs(store)
    assert runs["status"].tolist() == ["FINISHED"] and runs["params.data.stratify"].tolist() == [
        "breed"
    ]
    assert runs["params.data.n_test"].tolist() == ["4"]
