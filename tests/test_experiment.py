"""One job's own checks (`unetexp.experiment`); its runs end to end are in e2e/."""

from __future__ import annotations

import pytest
from conftest import write_npz
from omegaconf import OmegaConf

from unetexp.config.schema import DataConfig
from unetexp.data.load import load_dataset
from unetexp.errors import ConfigError
from unetexp.experiment import check_image_size


def test_image_size_the_depth_cannot_halve(tmp_path):
    """The data layer knows no model: the job checks the depth against the loaded images."""
    path = write_npz(tmp_path / "odd.npz", size=12)  # 12 = 4 * 3: depth 2 is fine, 3 is not
    dataset = load_dataset(OmegaConf.structured(DataConfig(name="npz", path=str(path))))
    check_image_size(2, dataset)
    assert dataset.images.shape[1] == 12
    with pytest.raises(ConfigError) as info:
        check_image_size(3, dataset)
    assert "model.depth=3 is too deep for 12x12 images from" in str(info.value)
    assert "odd.npz" in str(info.value) and "allowed depth: 1..2" in str(info.value)


def test_a_multirun_reads_and_hashes_its_data_once_until_the_file_changes(tmp_path):
    import os

    from conftest import make_cfg

    from unetexp.experiment import load_once

    path = write_npz(tmp_path / "data.npz")
    cfg = make_cfg("data=npz", f"data.path={path}")
    first, tags = load_once(cfg.data)
    assert load_once(cfg.data)[0] is first  # the next job of the sweep: no second read
    write_npz(path, n=12)
    os.utime(path, ns=(1, 1))  # another size and time: read again
    again, new_tags = load_once(cfg.data)
    assert again is not first and len(again.images) == 12
    assert new_tags["data_sha256"] != tags["data_sha256"] and new_tags["data_count"] == "12"
