"""Which data a figure comes from: the identity a run records, and the refusal to pool runs of
different data."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from conftest import write_npz

from unetexp.data.identity import data_identity
from unetexp.errors import UnetexpError
from unetexp.results.provenance import header, require_one_source, select


def test_a_file_is_identified_by_its_bytes(tmp_path):
    path = write_npz(tmp_path / "d.npz", n=6)
    with np.load(path) as data:
        identity = data_identity(str(path), data["images"], data["masks"])
    assert identity == {
        "data_source": str(path),
        "data_count": "6",
        "data_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }


def test_generated_data_is_identified_by_its_arrays():
    images, masks = np.zeros((4, 8, 8, 3), np.uint8), np.zeros((4, 8, 8), np.uint8)
    first = data_identity("synthetic(count=4, size=8)", images, masks)["data_sha256"]
    masks[0, 0, 0] = 1
    assert data_identity("synthetic(count=4, size=8)", images, masks)["data_sha256"] != first


RUNS = pd.DataFrame(
    {
        "data_source": ["real.npz", "real.npz", "synthetic(count=24, size=16)"],
        "data_count": ["714", "714", "24"],
        "data_sha256": ["295e24fc00", "295e24fc00", "2f00b3a9ff"],
    }
)


def test_runs_of_two_data_sources_are_never_pooled():
    with pytest.raises(UnetexpError) as error:
        require_one_source(RUNS)
    assert str(error.value) == (
        "these runs come from 2 data sources (real.npz (real photographs, 714 images, sha256 "
        "295e24fc); synthetic(count=24, size=16) (synthetic shapes, 24 images, sha256 2f00b3a9)): "
        "choose one with --data SHA256_PREFIX_OR_PATH"
    )
    require_one_source(RUNS.iloc[:2])  # one source: fine


def test_runs_without_a_recorded_hash_join_their_file():
    older = pd.DataFrame(
        {"data_source": ["real.npz"], "data_count": [714], "data_sha256": [float("nan")]}
    )
    mixed = pd.concat([RUNS.iloc[:2], older])
    require_one_source(mixed)
    assert header(mixed) == header(RUNS.iloc[:2])
    assert header(older) == ["data: real.npz (real photographs, 714 images, sha256 not recorded)"]


def test_select_by_hash_prefix_or_path():
    assert len(select(RUNS, "295e")) == 2 and len(select(RUNS, "synthetic")) == 1
    with pytest.raises(UnetexpError, match="--data nope: no run on such data"):
        select(RUNS, "nope")


def test_select_by_path_in_runs_without_a_hash_column():
    older = RUNS.drop(columns="data_sha256")
    assert select(older, "synthetic")["data_source"].tolist() == ["synthetic(count=24, size=16)"]


def test_header_warns_about_synthetic_data_only():
    assert header(RUNS.iloc[:2]) == [
        "data: real.npz (real photographs, 714 images, sha256 295e24fc)"
    ]
    assert header(RUNS.iloc[2:], "data A")[1].startswith("warning: data A is synthetic")
    assert header(pd.DataFrame({"x": [1]}))[0].startswith("data: not recorded")
