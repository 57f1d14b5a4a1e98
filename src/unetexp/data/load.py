"""Datasets as numpy arrays: the study's pets subset, any npz, the study's own .npy pair, and
learnable synthetic shapes. No TensorFlow here: bad data is reported before it loads.

The pets file is built on first use when the official archives are in the data root (or,
with data.download=true, downloaded there): see `unetexp.commands.data.build_study_file`.

Every loader returns images float32 in [0, 1] (N, H, W, 3) and masks float32 in {0, 1}
(N, H, W, 1). Problems raise `DataError` with one line naming the file.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unetexp.config.schema import check_depth
from unetexp.errors import DataError
from unetexp.config.paths import project_root

PETS_FILE = "oxford_pets_64_red.npz"


@dataclass
class Dataset:
    images: np.ndarray
    masks: np.ndarray
    source: str  # file(s) or "synthetic(...)", for messages and MLflow
    breed: np.ndarray | None = None  # per-image breed names (files from `unetexp data prepare`)


@dataclass
class Splits:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    separate_val: bool  # False: validation IS the test split, as in the study

    def sizes(self) -> dict[str, int]:
        return {"n_train": len(self.x_train), "n_val": len(self.x_val), "n_test": len(self.x_test)}


def data_root(root: str | None = None) -> Path:
    """`data.root`, else $UNETEXP_DATA_DIR, else the project's git-ignored data/."""
    return Path(root or os.environ.get("UNETEXP_DATA_DIR") or project_root() / "data")


def load_dataset(data_cfg, depth: int) -> Dataset:
    """Load the dataset the config names and check it can feed a model of this depth."""
    name = data_cfg.name
    if name == "synthetic":
        images, masks = make_synthetic(data_cfg.count, data_cfg.size)
        dataset = Dataset(images, masks, f"synthetic(count={data_cfg.count}, size={data_cfg.size})")
    elif name == "seed_npy":
        dataset = load_seed_npy(data_cfg.images, data_cfg.masks)
    else:
        path = data_cfg.path if name == "npz" else (data_cfg.path or data_root(data_cfg.root) / PETS_FILE)
        if name == "pets" and not Path(path).is_file():
            _build_pets(data_cfg, Path(path))
        dataset = load_npz(path)
    for side in sorted(set(dataset.images.shape[1:3])):
        check_depth(depth, side, dataset.source)
    return dataset


def _build_pets(data_cfg, path: Path) -> None:
    """Build the missing study file from the official files in its folder, or say how to get it."""
    from unetexp.commands.data import build_study_file

    if data_cfg.path is None and build_study_file(path.parent, path, bool(data_cfg.download)):
        return
    raise DataError(
        f"{path}: the study's dataset is not there. Build it with `unetexp data prepare --source DIR` "
        f"(the official images.tar.gz and annotations.tar.gz, or their folder) or `--download`, put "
        f"those two archives in {path.parent}, or add data.download=true; or set UNETEXP_DATA_DIR to "
        f"the folder that holds {PETS_FILE}; or train on data=synthetic")


def _read_npy(path: str | Path, what: str) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: {what} file not found")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise DataError(f"{path}: cannot read {what} without pickle ({exc})") from None
    except OSError as exc:
        raise DataError(f"{path}: not a readable .npy file ({exc})") from None


def load_npz(path: str | Path) -> Dataset:
    """An npz with `images` uint8 (N,H,W,3) and `masks` (N,H,W) or (N,H,W,1) in {0,1}."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: data file not found")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in ("images", "masks") if k not in archive.files]
            if missing:
                raise DataError(f"{path}: missing key(s) {', '.join(missing)} "
                                f"(found: {', '.join(archive.files) or 'none'})")
            images, masks = archive["images"], archive["masks"]
            breed = archive["breed"] if "breed" in archive.files else None
    except DataError:
        raise
    except (ValueError, OSError) as exc:
        raise DataError(f"{path}: not a readable npz file ({exc})") from None
    if images.dtype != np.uint8:
        raise DataError(f"{path}: images must be uint8, got {images.dtype}")
    images, masks = check_arrays(images, masks, str(path))
    if breed is not None and (breed.shape != (len(images),) or breed.dtype.kind not in "US"):
        raise DataError(f"{path}: breed must be {len(images)} strings, got {breed.dtype} {breed.shape}")
    return Dataset(images, masks, source=str(path), breed=breed)


def load_seed_npy(images_path: str | Path, masks_path: str | Path) -> Dataset:
    """The study's own pair (data64_red.npy, mask64_red.npy), float or uint8 as it saved them."""
    images = _read_npy(images_path, "images")
    masks = _read_npy(masks_path, "masks")
    source = f"{images_path} + {masks_path}"
    return Dataset(*check_arrays(images, masks, source), source=source)


def check_arrays(images: np.ndarray, masks: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate shapes, counts and values; return float32 images in [0,1] and masks (N,H,W,1)."""
    if images.ndim != 4 or images.shape[-1] != 3:
        raise DataError(f"{source}: images must have shape (N, H, W, 3), got {images.shape}")
    if masks.ndim == 3:
        masks = masks[..., None]
    if masks.ndim != 4 or masks.shape[-1] != 1:
        raise DataError(f"{source}: masks must have shape (N, H, W) or (N, H, W, 1), got {masks.shape}")
    if len(images) != len(masks):
        raise DataError(f"{source}: {len(images)} images but {len(masks)} masks")
    if images.shape[1:3] != masks.shape[1:3]:
        raise DataError(f"{source}: images are {images.shape[1]}x{images.shape[2]} "
                        f"but masks are {masks.shape[1]}x{masks.shape[2]}")
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


def split(dataset: Dataset, test_fraction: float, val_fraction: float, seed: int,
          stratify: str | None = None) -> Splits:
    """Seeded train/test split; validation is the test split unless val_fraction > 0.

    stratify="breed" keeps each breed's share the same in every split (needs `dataset.breed`)."""
    labels = None
    if stratify == "breed":
        if dataset.breed is None:
            raise DataError(f"{dataset.source}: data.stratify=breed needs a `breed` array in the "
                            f"data file (files from `unetexp data prepare` have one)")
        labels = dataset.breed
    index = np.arange(len(dataset.images))
    train, test = _split_index(index, test_fraction, seed, labels, dataset.source)
    x, y = dataset.images, dataset.masks
    x_test, y_test = x[test], y[test]
    if val_fraction <= 0:
        return Splits(x[train], y[train], x_test, y_test, x_test, y_test, separate_val=False)
    train, val = _split_index(train, val_fraction, seed, None if labels is None else labels[train],
                              dataset.source)
    return Splits(x[train], y[train], x[val], y[val], x_test, y_test, separate_val=True)


def _split_index(index: np.ndarray, fraction: float, seed: int, labels, source: str):
    from sklearn.model_selection import train_test_split

    try:
        return train_test_split(index, test_size=fraction, random_state=seed, stratify=labels)
    except ValueError as exc:
        if labels is None:
            raise
        counts = dict(zip(*np.unique(labels, return_counts=True)))
        rare = min(counts, key=counts.get)
        reason = " ".join(str(exc).split())
        raise DataError(f"{source}: data.stratify=breed cannot split {len(index)} images of "
                        f"{len(counts)} breeds (smallest: {rare}, {counts[rare]} images): "
                        f"{reason}") from None


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
        return rng.uniform(0.5, 0.95) * np.array([1.0, rng.uniform(0.4, 0.85), rng.uniform(0.1, 0.5)])

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
