"""Datasets as numpy arrays: the study's pets file, any npz, the study's own .npy pair, and
learnable synthetic shapes. No TensorFlow here: bad data is reported before it loads.

Building the pets file on first use is the caller's request (`unetexp.data.open_dataset`);
this module only reads. Every loader returns images float32 in [0, 1] (N, H, W, 3) and masks
float32 in {0, 1} (N, H, W, 1). Problems raise `DataError` with one line naming the file.
"""

from __future__ import annotations

import os
import tokenize
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unetexp.config.paths import project_root
from unetexp.data.synthetic import make_synthetic
from unetexp.errors import DataError

PETS_FILE = "oxford_pets_64_red.npz"
# what numpy raises on a truncated or corrupted file (a zip's bad CRC, a cut-off deflate
# stream, a damaged .npy header that numpy's literal parser cannot read, a shape too big)
READ_ERRORS = (ValueError, OSError, EOFError, SyntaxError, MemoryError, zipfile.BadZipFile,
               zlib.error, tokenize.TokenError)  # fmt: skip


@dataclass
class Dataset:
    images: np.ndarray
    masks: np.ndarray
    source: str  # file(s) or "synthetic(...)", for messages and MLflow
    breed: np.ndarray | None = None  # per-image breed names (files from `unetexp data prepare`)
    sha256: str | None = None  # known identity (bundled file, folder content); else hashed
    counts: dict[str, int] | None = None  # a folder's pairs found and skipped, for MLflow


def data_root(root: str | None = None) -> Path:
    """`data.root`, else $UNETEXP_DATA_DIR, else the project's git-ignored data/."""
    return Path(root or os.environ.get("UNETEXP_DATA_DIR") or project_root() / "data")


def pets_path(data_cfg) -> Path:
    """The study's file: `data.path`, else <data root>/oxford_pets_64_red.npz."""
    return Path(data_cfg.path or data_root(data_cfg.root) / PETS_FILE)


def load_dataset(data_cfg) -> Dataset:
    """Load the dataset the config names (the caller checks it against the model)."""
    name = data_cfg.name
    if name == "synthetic":
        images, masks = make_synthetic(data_cfg.count, data_cfg.size)
        return Dataset(images, masks, f"synthetic(count={data_cfg.count}, size={data_cfg.size})")
    if name == "seed_npy":
        return load_seed_npy(data_cfg.images, data_cfg.masks)
    return load_npz(data_cfg.path if name == "npz" else pets_path(data_cfg))


def _read_npy(path: str | Path, what: str) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: {what} file not found")
    try:
        return np.load(path, allow_pickle=False)
    except READ_ERRORS as exc:  # a cut-off file is a ValueError too: say pickle only for pickle
        why = (
            f"cannot read {what} without pickle"
            if "pickle" in str(exc)
            else "not a readable .npy file"
        )
        raise DataError(f"{path}: {why} ({exc})") from None


def load_npz(path: str | Path) -> Dataset:
    """An npz with `images` uint8 (N,H,W,3) and `masks` (N,H,W) or (N,H,W,1) in {0,1}."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: data file not found")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in ("images", "masks") if k not in archive.files]
            if missing:
                raise DataError(
                    f"{path}: missing key(s) {', '.join(missing)} "
                    f"(found: {', '.join(archive.files) or 'none'})"
                )
            images, masks = archive["images"], archive["masks"]
            breed = archive["breed"] if "breed" in archive.files else None
    except DataError:
        raise
    except READ_ERRORS as exc:
        raise DataError(f"{path}: not a readable npz file ({exc})") from None
    if images.dtype != np.uint8:
        raise DataError(f"{path}: images must be uint8, got {images.dtype}")
    images, masks = check_arrays(images, masks, str(path))
    if breed is not None and (breed.shape != (len(images),) or breed.dtype.kind not in "US"):
        raise DataError(
            f"{path}: breed must be {len(images)} strings, got {breed.dtype} {breed.shape}"
        )
    return Dataset(images, masks, source=str(path), breed=breed)


def load_seed_npy(images_path: str | Path, masks_path: str | Path) -> Dataset:
    """The study's own pair (data64_red.npy, mask64_red.npy), float or uint8 as it saved them."""
    images = _read_npy(images_path, "images")
    masks = _read_npy(masks_path, "masks")
    source = f"{images_path} + {masks_path}"
    return Dataset(*check_arrays(images, masks, source), source=source)


def check_arrays(
    images: np.ndarray, masks: np.ndarray, source: str
) -> tuple[np.ndarray, np.ndarray]:
    """Validate shapes, counts and values; return float32 images in [0,1] and masks (N,H,W,1)."""
    if images.ndim != 4 or images.shape[-1] != 3:
        raise DataError(f"{source}: images must have shape (N, H, W, 3), got {images.shape}")
    if masks.ndim == 3:
        masks = masks[..., None]
    if masks.ndim != 4 or masks.shape[-1] != 1:
        raise DataError(
            f"{source}: masks must have shape (N, H, W) or (N, H, W, 1), got {masks.shape}"
        )
    if len(images) != len(masks):
        raise DataError(f"{source}: {len(images)} images but {len(masks)} masks")
    if images.shape[1:3] != masks.shape[1:3]:
        raise DataError(
            f"{source}: images are {images.shape[1]}x{images.shape[2]} "
            f"but masks are {masks.shape[1]}x{masks.shape[2]}"
        )
    if len(images) < 4:
        raise DataError(f"{source}: {len(images)} images, at least 4 are needed to split")
    for what, array in (("images", images), ("masks", masks)):
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
            raise DataError(f"{source}: {what} must be numeric, got {array.dtype}")
        if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
            raise DataError(f"{source}: {what} contain NaN or infinite values")
    if not np.isin(masks, (0, 1)).all():
        values = np.unique(masks)[:6]
        raise DataError(f"{source}: masks must be binary (0 or 1), found values {values.tolist()}")
    images = images.astype(np.float32)
    if images.min() < 0:
        raise DataError(f"{source}: images have negative values (min {images.min():g})")
    if images.max() > 1.0:  # 0..255, as uint8 or as floats
        images /= 255.0
    return images, masks.astype(np.float32)
