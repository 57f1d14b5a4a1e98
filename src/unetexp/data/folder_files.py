"""data=folder's inputs: a folder of images and a folder of masks paired by file stem, and one
pair decoded into arrays or the reason it cannot be used. No TensorFlow here."""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from unetexp.errors import DataError, one_line


def _extensions() -> set[str]:
    from PIL import Image

    return {ext.lower() for ext in Image.registered_extensions()}


def list_folder(folder: Path, key: str) -> dict[str, list[Path]]:
    """STEM -> files of the formats Pillow reads (hidden files, macOS `._` companions and other
    files aside); a folder that is missing or holds none stops with one line naming it."""
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "folder not found"
        raise DataError(f"{key}={folder}: {what}")
    known = _extensions()
    found: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in known:
            found.setdefault(path.stem, []).append(path)
    if not found:
        raise DataError(f"{key}={folder}: no image files in the folder (any format Pillow reads)")
    return found


@dataclass
class Inventory:
    """The two folders' files: the pairs to convert, and what cannot pair (name, reason)."""

    images_dir: Path
    masks_dir: Path
    images: dict[str, list[Path]]
    masks: dict[str, list[Path]]
    pairs: list[tuple[str, Path, Path]] = field(default_factory=list)
    no_mask: list[str] = field(default_factory=list)  # file names
    no_image: list[str] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)

    @classmethod
    def scan(cls, images_dir: Path, masks_dir: Path) -> Inventory:
        images, masks = list_folder(images_dir, "data.images"), list_folder(masks_dir, "data.masks")
        found = cls(images_dir, masks_dir, images, masks)
        for stem in sorted(found.images.keys() | found.masks.keys()):
            stem_images, stem_masks = found.images.get(stem, []), found.masks.get(stem, [])
            if len(stem_images) > 1 or len(stem_masks) > 1:
                several = stem_images if len(stem_images) > 1 else stem_masks
                found.duplicates.append(
                    {
                        "name": stem,
                        "reason": "several files: " + ", ".join(p.name for p in several),
                        "path": str(several[0].parent / stem),
                    }
                )
            elif not stem_masks:
                found.no_mask.append(stem_images[0].name)
            elif not stem_images:
                found.no_image.append(stem_masks[0].name)
            else:
                found.pairs.append((stem, stem_images[0], stem_masks[0]))
        return found

    @property
    def source(self) -> str:
        """How runs and messages name the data: `IMAGES + MASKS`."""
        return f"{self.images_dir} + {self.masks_dir}"

    def key(self, options: dict) -> str:
        """sha256 of every file's name and bytes in both folders and of the options: a changed,
        added or removed file gives another key (the data is converted again), none the same."""
        digest = hashlib.sha256(json.dumps(options, sort_keys=True).encode())
        for role, files in (("images", self.images), ("masks", self.masks)):
            for path in sorted(p for paths in files.values() for p in paths):
                digest.update(f"{role}/{path.name}\0".encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest()


def _open(path: Path, what: str):
    from PIL import Image

    try:
        with warnings.catch_warnings():  # palette-transparency and EXIF notes: not our concern
            warnings.simplefilter("ignore")
            picture = Image.open(path)
            picture.load()
        return picture
    except Exception as exc:  # PIL raises many kinds: report, skip, go on
        return f"{what} does not decode ({type(exc).__name__}: {one_line(exc)})"


def _mask_values(picture) -> np.ndarray | str:
    """A mask's values, one channel: grey, palette index or a colour PNG whose channels agree."""
    values = np.asarray(picture.convert("L") if picture.mode == "1" else picture)
    if values.ndim == 3:
        channels = values[..., : 3 if values.shape[-1] >= 3 else 1]
        if (channels != channels[..., :1]).any():
            return f"mask is in colour ({picture.mode}): it must have one value per pixel"
        values = channels[..., 0]
    return values.astype(np.int64)


def binary_mask(values: np.ndarray, object_values: list[int] | None) -> np.ndarray | str:
    """The object: `object_values` when given (a trimap's 1), else 1 of {0,1} or 255 of {0,255}."""
    if object_values:
        return np.isin(values, object_values)
    found = np.unique(values)
    if np.isin(found, (0, 1)).all():
        return values == 1
    if np.isin(found, (0, 255)).all():
        return values == 255
    return (
        f"mask values {found[:6].tolist()} are not {{0, 1}} or {{0, 255}} "
        f"(a trimap or labels: set data.mask_values to the object's values)"
    )


def decode_pair(image: Path, mask: Path, size: int, object_values: list[int] | None):
    """(image uint8 (S,S,3), mask uint8 (S,S), converted-from mode or None) or a skip reason."""
    from PIL import Image

    picture = _open(image, "image")
    if isinstance(picture, str):
        return picture
    labels = _open(mask, "mask")
    if isinstance(labels, str):
        return labels
    if labels.size != picture.size:
        return (
            f"mask is {labels.size[0]}x{labels.size[1]} but the image is "
            f"{picture.size[0]}x{picture.size[1]}"
        )
    values = _mask_values(labels)
    binary = values if isinstance(values, str) else binary_mask(values, object_values)
    if isinstance(binary, str):
        return binary
    converted = None if picture.mode == "RGB" else picture.mode
    rgb = picture.convert("RGB") if converted else picture
    small = np.asarray(rgb.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)
    resized = Image.fromarray(binary.astype(np.uint8)).resize(
        (size, size), Image.Resampling.NEAREST
    )
    return small, np.asarray(resized, dtype=np.uint8), converted
