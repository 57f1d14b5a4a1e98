"""`train.augment`: image and mask moved alike, seeded, in training only (`training.augment`)."""

from __future__ import annotations

import numpy as np
import pytest

from unetexp.training.augment import AugmentedBatches, augment


def pairs(n: int = 16, side: int = 16):
    rng = np.random.default_rng(0)
    images = rng.random((n, side, side, 3), dtype=np.float32)
    masks = (images[..., :1] > 0.5).astype(np.float32)  # the mask is a function of the image
    return images, masks


@pytest.mark.parametrize("mode", ["flip", "flip+shift"])
def test_image_and_mask_move_alike(mode):
    images, masks = pairs()
    out_images, out_masks = augment(images, masks, mode, np.random.default_rng(1))
    assert out_images.shape == images.shape and out_masks.shape == masks.shape
    np.testing.assert_array_equal(out_masks, (out_images[..., :1] > 0.5).astype(np.float32))
    assert not np.array_equal(out_images, images)  # something moved
    assert set(np.unique(out_masks)) <= {0.0, 1.0}  # a mask stays binary (no interpolation)
    np.testing.assert_array_equal(images, pairs()[0])  # the split's arrays are never written


def test_flip_flips_about_half_left_right():
    images, masks = pairs(n=200)
    out, _ = augment(images, masks, "flip", np.random.default_rng(2))
    flipped = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, images, strict=True)]
    same = [np.array_equal(o, i) for o, i in zip(out, images, strict=True)]
    assert all(f or s for f, s in zip(flipped, same, strict=True))
    assert 70 < sum(flipped) < 130


def test_shift_moves_by_at_most_an_eighth_of_the_side():
    images, masks = pairs(n=50, side=64)
    out, _ = augment(images, masks, "flip+shift", np.random.default_rng(3))
    # with a flip undone, each output is its input moved by (dy, dx), |dy|, |dx| <= 8
    for o, i in zip(out, images, strict=True):
        centre = o[8:56, 8:56]
        found = any(
            np.array_equal(centre, src[8 + dy : 56 + dy, 8 + dx : 56 + dx])
            for src in (i, i[:, ::-1])
            for dy in range(-8, 9)
            for dx in range(-8, 9)
        )
        assert found


def test_batches_are_seeded_by_epoch_and_resume_where_they_were():
    images, masks = pairs(n=20)
    first = AugmentedBatches(images, masks, 8, "flip+shift", 0, lambda m: m)
    assert len(first) == 3 and len(first[2][0]) == 4
    epoch0 = [first[i] for i in range(3)]
    first.on_epoch_end()
    epoch1 = [first[i] for i in range(3)]
    assert not np.array_equal(epoch0[0][0], epoch1[0][0])
    resumed = AugmentedBatches(images, masks, 8, "flip+shift", 0, lambda m: m, initial_epoch=1)
    for (x, y), (rx, ry) in zip(epoch1, (resumed[i] for i in range(3)), strict=True):
        np.testing.assert_array_equal(x, rx)
        np.testing.assert_array_equal(y, ry)
    assert sum(len(x) for x, _ in epoch0) == 20  # every image once per epoch


def test_augmentation_is_part_of_a_configs_identity_but_none_keeps_old_hashes():
    from conftest import make_cfg

    from unetexp.config.hashing import config_hash

    default = config_hash(make_cfg())
    assert config_hash(make_cfg("train.augment=none")) == default  # runs logged before keep it
    assert config_hash(make_cfg("train.augment=flip")) != default
    assert config_hash(make_cfg("train.augment=flip")) != config_hash(
        make_cfg("train.augment=flip+shift")
    )
