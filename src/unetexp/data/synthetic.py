"""Learnable synthetic scenes for tests, demos and offline first runs (data=synthetic)."""

from __future__ import annotations

import numpy as np


def make_synthetic(count: int, size: int, seed: int = 1234) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic pets-like scenes: smooth warm blobs (the objects) on striped backgrounds
    that also hold striped warm distractors, so colour alone is not enough: shape and texture
    matter, as with real pets, and configs differ after 10 epochs instead of all reaching 100 %.

    The same (count, size) always gives the same arrays, whatever the run's seed: only the
    split changes with it. A small U-Net clearly beats chance within a few epochs.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    images = np.empty((count, size, size, 3), np.float32)
    masks = np.zeros((count, size, size, 1), np.float32)

    def blob(low=0.12, high=0.3):
        cy, cx = rng.uniform(0.25, 0.75, 2)
        ry, rx = rng.uniform(low, high, 2)
        if rng.random() < 0.5:
            return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
        return (np.abs(yy - cy) <= ry * 0.8) & (np.abs(xx - cx) <= rx * 0.8)

    def warm():
        return rng.uniform(0.5, 0.95) * np.array(
            [1.0, rng.uniform(0.4, 0.85), rng.uniform(0.1, 0.5)]
        )

    for i in range(count):
        angle, freq = rng.uniform(0, np.pi), rng.uniform(5, 14)
        stripes = np.sin(2 * np.pi * freq * (xx * np.cos(angle) + yy * np.sin(angle)))[..., None]
        image = rng.uniform(0.15, 0.7, 3) + 0.18 * stripes * rng.uniform(0.4, 1.0, 3)
        for _ in range(rng.integers(0, 3)):  # warm but striped: background
            image = np.where(blob()[..., None], warm() + 0.2 * stripes, image)
        mask = np.zeros((size, size), bool)
        for _ in range(rng.integers(1, 3)):
            mask |= blob(0.2, 0.42)
        shade = 0.85 + 0.15 * np.sin(2 * np.pi * rng.uniform(1, 3) * yy)[..., None]
        image = np.where(mask[..., None], warm() * shade, image)
        image += rng.normal(0, 0.08, image.shape)
        images[i] = np.clip(image, 0, 1)
        masks[i, ..., 0] = mask
    return images, masks
