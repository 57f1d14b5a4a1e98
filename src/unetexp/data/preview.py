"""A picture of prepared pairs, to check by eye that images and masks line up."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def save_preview(
    npz: str | Path, png: str | Path, count: int = 8, columns: int = 4, scale: int = 2
) -> Path:
    """A grid of (image, image with the mask in red) for the first `count` pairs of an npz."""
    from PIL import Image

    with np.load(npz, allow_pickle=False) as data:
        images, masks = data["images"][:count], data["masks"][:count]
    masks = masks.reshape(masks.shape[:3]).astype(bool)
    overlay = images.astype(np.float32)
    overlay[masks] = 0.45 * overlay[masks] + 0.55 * np.array([255.0, 0.0, 0.0])
    pairs = [
        np.concatenate([img, ovl.astype(np.uint8)], axis=1)
        for img, ovl in zip(images, overlay, strict=False)
    ]
    pairs += [np.zeros_like(pairs[0])] * (-len(pairs) % columns)
    rows = [np.concatenate(pairs[i : i + columns], axis=1) for i in range(0, len(pairs), columns)]
    sheet = np.concatenate(rows, axis=0)
    picture = Image.fromarray(sheet).resize(
        (sheet.shape[1] * scale, sheet.shape[0] * scale), Image.Resampling.NEAREST
    )
    Path(png).parent.mkdir(parents=True, exist_ok=True)
    picture.save(png)
    return Path(png)
