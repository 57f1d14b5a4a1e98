"""What a job run logs as params and how it is named, from configs composed as the CLI does."""

from __future__ import annotations

import pytest
from conftest import make_cfg

from unetexp.config.hashing import config_hash
from unetexp.config.paths import conf_dir
from unetexp.tracking.naming import job_name, run_description
from unetexp.tracking.params import run_params

SOURCES = sorted(p.stem for p in (conf_dir() / "data").glob("*.yaml"))
SIZES = {"n_train": 8, "n_val": 2, "n_test": 2}
# the data keys each bundled source reads; any other data key of the schema is another source's
READS = {
    "pets": {"root", "path", "download"},
    "npz": {"path"},
    "seed_npy": {"images", "masks"},
    "synthetic": {"size", "count"},
    "folder": {"images", "masks", "size", "mask_values", "strict"},
    "pets_real": set(),
}
SPLIT = {"name", "test_fraction", "val_fraction", "stratify", "n_train", "n_val", "n_test"}


@pytest.mark.parametrize("source", SOURCES)
def test_a_run_logs_no_param_of_another_data_source_and_no_none(source):
    cfg = make_cfg(f"data={source}", "data.stratify=breed")
    params = run_params(cfg, SIZES)
    assert None not in params.values() and "None" not in params.values()
    data_keys = {key.split(".", 1)[1] for key in params if key.startswith("data.")}
    others = set().union(*(keys for name, keys in READS.items() if name != source))
    assert source in READS, f"data={source}: say in READS which data keys it reads"
    assert not data_keys & (others - READS[source]), source
    assert data_keys >= SPLIT
    assert "force" not in params  # how to run, not what ran
    assert {k for k in params if k.startswith("tracking.")} == {"tracking.experiment"}


def test_params_are_the_values_the_run_used_and_the_hash_is_the_whole_configs():
    cfg = make_cfg("data=npz", "data.path=faces.npz", "train.epochs=3")
    params = run_params(cfg, SIZES)
    assert {k: v for k, v in params.items() if k.startswith("data.")} == {
        "data.name": "npz",
        "data.path": "faces.npz",
        "data.test_fraction": 0.2,
        "data.val_fraction": 0.0,
        "data.n_train": 8,
        "data.n_val": 2,
        "data.n_test": 2,
    }
    assert params["train.epochs"] == 3 and params["tracking.experiment"] == "unetexp"
    assert "data.count" not in params and "data.download" not in params
    assert config_hash(cfg) == config_hash(
        make_cfg("data=npz", "data.path=faces.npz", "train.epochs=3")
    )


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ([], "s0 d3 c1 transpose2 b128 bce"),
        (["train.epochs=2"], "s0 d3 c1 transpose2 b128 bce e2"),
        (["+experiment=unet_best"], "s0 unet_best"),
        (["+experiment=unet_best", "train.epochs=2"], "s0 unet_best e2"),
        (["+experiment=unet_best", "seed=1", "train.batch_size=16"], "s1 unet_best bs16"),
        (["+experiment=unet_best", "tracking.run_name=mine", "train.epochs=2"], "mine"),
        (["train.augment=flip+shift"], "s0 d3 c1 transpose2 b128 bce aug-flip+shift"),
        (["+experiment=unet_best", "train.augment=flip"], "s0 unet_best aug-flip"),
    ],
)
def test_a_run_whose_training_was_overridden_says_so_in_its_name(overrides, name):
    assert job_name(make_cfg(*overrides), overrides) == name


def test_the_description_counts_jobs_from_one():
    text = run_description(make_cfg(), "synthetic", SIZES, 0, "abc123")
    assert "Job 1 of the sweep in parent run abc123." in text
