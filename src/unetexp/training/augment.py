"""Training-time augmentation (`train.augment`): the same random flip and shift applied to an
image and its mask, batch by batch, in training only (validation and test see the images as
they are). Written in numpy inside a `keras.utils.PyDataset`, so that a seed gives the same
batches on every Keras backend: a preprocessing layer draws from its backend's generator, and
each layer sees the image or the mask, never both at once."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from unetexp.training.runtime import keras

SHIFT_FRACTION = 8  # flip+shift moves an image by up to 1/8 of its side (8 px at 64x64)


def augment(images: np.ndarray, masks: np.ndarray, mode: str, rng: np.random.Generator):
    """Copies of a batch, each pair flipped left-right with probability 1/2 (`flip`), then
    (`flip+shift`) moved by up to 1/8 of its side on each axis, edges mirrored."""
    images, masks = images.copy(), masks.copy()
    flipped = rng.random(len(images)) < 0.5
    images[flipped] = images[flipped, :, ::-1]
    masks[flipped] = masks[flipped, :, ::-1]
    if mode == "flip+shift":
        height, width = images.shape[1:3]
        most = max(1, min(height, width) // SHIFT_FRACTION)
        pad = ((most, most), (most, most), (0, 0))
        for i, (dy, dx) in enumerate(rng.integers(-most, most + 1, size=(len(images), 2))):
            top, left = most + dy, most + dx
            for batch in (images, masks):
                padded = np.pad(batch[i], pad, mode="reflect")
                batch[i] = padded[top : top + height, left : left + width]
    return images, masks


class AugmentedBatches(keras.utils.PyDataset):
    """Shuffled, augmented training batches; epoch e's order and draws come from (seed, e),
    so a job resumed at epoch e sees what an uninterrupted one would have."""

    def __init__(
        self,
        images: np.ndarray,
        masks: np.ndarray,
        batch_size: int,
        mode: str,
        seed: int,
        targets: Callable,
        initial_epoch: int = 0,
    ):
        super().__init__()
        self.images, self.masks, self.batch_size, self.mode = images, masks, batch_size, mode
        self.seed, self.targets, self.epoch = seed, targets, initial_epoch
        self.order = self._order()

    def _order(self) -> np.ndarray:
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.images))

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def __getitem__(self, index: int):
        picked = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        images, masks = augment(self.images[picked], self.masks[picked], self.mode, rng)
        return images, self.targets(masks)

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self.order = self._order()
