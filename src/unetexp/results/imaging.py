"""Image helpers shared by the run artifacts and `unetexp predict`: numpy and Pillow only."""

from __future__ import annotations

import numpy as np

OVERLAY_COLOUR = (255, 48, 48)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """float images in [0, 1] (or uint8) as uint8 RGB."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def edges(mask: np.ndarray) -> np.ndarray:
    """The mask's boundary pixels (mask minus its 4-neighbour erosion)."""
    mask = np.asarray(mask, bool)
    padded = np.pad(mask, 1, mode="edge")
    eroded = (
        padded[1:-1, 1:-1]
        & padded[:-2, 1:-1]
        & padded[2:, 1:-1]
        & padded[1:-1, :-2]
        & padded[1:-1, 2:]
    )
    return mask & ~eroded


def _grow(pixels: np.ndarray, steps: int) -> np.ndarray:
    """4-neighbour dilation, `steps` times."""
    for _ in range(steps):
        padded = np.pad(pixels, 1)
        pixels = (
            padded[1:-1, 1:-1]
            | padded[:-2, 1:-1]
            | padded[2:, 1:-1]
            | padded[1:-1, :-2]
            | padded[1:-1, 2:]
        )
    return pixels


def overlay(
    image: np.ndarray,
    mask: np.ndarray,
    alpha: float = 0.45,
    colour: tuple[int, int, int] = OVERLAY_COLOUR,
) -> np.ndarray:
    """The image with the mask tinted in `colour` and its outline drawn solid (uint8 RGB);
    the outline is 1 pixel wide on a 64x64 image and grows with larger ones."""
    out = to_uint8(image).astype(np.float32)
    mask = np.asarray(mask, bool).reshape(out.shape[:2])
    tint = np.asarray(colour, np.float32)
    out[mask] = (1.0 - alpha) * out[mask] + alpha * tint
    outline = _grow(edges(mask), max(0, min(out.shape[:2]) // 250)) & mask
    out[outline] = tint
    return out.astype(np.uint8)
