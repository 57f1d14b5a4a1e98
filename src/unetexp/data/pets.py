"""Build an npz dataset from the official Oxford-IIIT Pet files, archives or extracted folder.

The recipe (also written into every sidecar, so a file says how it was made):
1. names: the stems of `images/*.jpg`, sorted (Python string order); trimaps are
   `annotations/trimaps/NAME.png`. macOS `._*` companions and non-JPEG members are ignored.
2. subset: `numpy.random.default_rng(seed).permutation(len(names))[:k]` with
   k = floor(fraction * len(names) + 0.5), kept in name order. The full dataset has 7,390 images,
   so --fraction 0.1 picks 739; pairs that cannot be used are then skipped, not replaced (the
   study's file has 738).
3. each pair: decode the image (any mode PIL reads: grayscale, RGBA, CMYK, palette are converted
   to RGB and listed), resize to size x size with bilinear filtering (aspect ratio not kept, as in
   the study); resize the trimap with nearest neighbour; mask = trimap == 1 (`pet`) or trimap in
   {1, 3} (`pet+border`). A pair that fails (undecodable image, no trimap, trimap of another size
   or with values outside 1..3) is skipped with its reason; the build never stops half-way.
4. species: cat when the breed starts with an uppercase letter, else dog; breed: the name
   without its trailing `_NUMBER`.

Decoding runs in a process pool (all cores) for more than a few dozen pairs.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

import numpy as np

from unetexp.data.pets_decode import decode_all
from unetexp.data.pets_files import Catalog, Source
from unetexp.errors import DataError
from unetexp.host import usable_cores

MASKS = ("pet", "pet+border")


class Recipe(TypedDict):
    """The subset recipe's options, typed so that `prepare(source, out, **STUDY)` is checked."""

    size: int
    fraction: float
    seed: int
    mask: str


STUDY: Recipe = {"size": 64, "fraction": 0.1, "seed": 0, "mask": "pet"}  # oxford_pets_64_red.npz
CHUNK = 32  # pairs per task sent to a worker
FORMAT = "unetexp-pets/1"
RECIPE = (
    "names = sorted stems of images/*.jpg; subset = names[i] for i in sorted("
    "numpy.random.default_rng(seed).permutation(len(names))[:floor(fraction*len(names)+0.5)]); "
    "image: PIL convert('RGB'), resize((size, size), BILINEAR); trimap: resize NEAREST; "
    "mask: trimap == 1 (pet) or trimap in {1, 3} (pet+border); unusable pairs skipped"
)


def select(names: list[str], fraction: float, seed: int) -> list[str]:
    """The seeded subset of the recipe, in name order."""
    if fraction >= 1:
        return list(names)
    k = max(1, math.floor(fraction * len(names) + 0.5))
    picked = np.random.default_rng(seed).permutation(len(names))[:k]
    return [names[i] for i in sorted(picked)]


def breed_of(name: str) -> str:
    return name.rsplit("_", 1)[0] if name.rsplit("_", 1)[-1].isdigit() else name


def species_of(name: str) -> str:
    return "cat" if name[:1].isupper() else "dog"


# ---------------------------------------------------------------- building


@dataclass
class Built:
    images: np.ndarray
    masks: np.ndarray
    names: list[str]
    skipped: list[dict] = field(default_factory=list)  # {"name", "reason"}
    converted: list[dict] = field(default_factory=list)  # {"name", "from"}
    found: dict = field(default_factory=dict)  # images, trimaps, selected


def build(
    source: Source,
    size: int = 64,
    fraction: float = 0.1,
    seed: int = 0,
    mask: str = "pet",
    workers: int | None = None,
    chunk: int = CHUNK,
) -> Built:
    """Decode the recipe's subset of `source` into arrays; never stops on a bad pair."""
    catalog = Catalog.open(source)
    try:
        names = catalog.names()
        selected = select(names, fraction, seed)
        images, masks, outcome = decode_all(
            catalog.items(selected), selected, size, mask, workers or usable_cores(), chunk
        )
    finally:
        catalog.close()
    kept = [n for n in selected if outcome[n][0]]
    if not kept:
        raise DataError(
            f"{source.images}: none of the {len(selected)} selected pairs could be used "
            f"(first: {selected[0]}: {outcome[selected[0]][1]})"
        )
    for j, i in enumerate(i for i, n in enumerate(selected) if outcome[n][0]):
        if i != j:  # close the gaps left by skipped pairs, in place
            images[j], masks[j] = images[i], masks[i]
    return Built(
        images=images[: len(kept)],
        masks=masks[: len(kept)],
        names=kept,
        skipped=[{"name": n, "reason": outcome[n][1]} for n in selected if not outcome[n][0]],
        converted=[{"name": n, "from": outcome[n][1]} for n in kept if outcome[n][1]],
        found={
            "images_found": len(names),
            "trimaps_found": len(catalog.trimaps),
            "selected": len(selected),
        },
    )


# ---------------------------------------------------------------- writing


def _array_sha256(array: np.ndarray) -> str:
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(np.ascontiguousarray(array).data)  # the buffer itself: no copy
    return digest.hexdigest()


def write(
    built: Built,
    out: Path,
    source: Source,
    options: dict,
    seconds: float,
    command: list[str] | None = None,
) -> dict:
    """Write OUT.npz atomically and its sidecar OUT.json; return the sidecar."""
    from unetexp import __version__
    from unetexp.data.download import sha256_file

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    arrays = {
        "images": built.images,
        "masks": built.masks,
        "names": np.array(built.names),
        "species": np.array([species_of(n) for n in built.names]),
        "breed": np.array([breed_of(n) for n in built.names]),
    }
    partial = out.with_name(f"{out.name}.{os.getpid()}.partial.npz")  # unique: parallel jobs
    try:
        np.savez_compressed(
            partial,
            images=arrays["images"],
            masks=arrays["masks"],
            names=arrays["names"],
            species=arrays["species"],
            breed=arrays["breed"],
        )
        partial.replace(out)  # readers see the old file or the whole new one, never half
    finally:
        partial.unlink(missing_ok=True)
    species = arrays["species"].tolist()
    sidecar = {
        "format": FORMAT,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "unetexp_version": __version__,
        "command": command,
        "source": source.describe(),
        "options": options,
        "recipe": RECIPE,
        "counts": {
            **built.found,
            "written": len(built.names),
            "skipped": len(built.skipped),
            "converted": len(built.converted),
            "cats": species.count("cat"),
            "dogs": species.count("dog"),
            "breeds": len(set(arrays["breed"].tolist())),
        },
        "skipped": built.skipped,
        "converted": built.converted,
        "output": {
            "path": str(out),
            "bytes": out.stat().st_size,
            "sha256": sha256_file(out),
            "arrays": {
                k: {"shape": list(v.shape), "dtype": v.dtype.str, "sha256": _array_sha256(v)}
                for k, v in arrays.items()
            },
        },
        "seconds": round(seconds, 2),
    }
    sidecar_path(out).write_text(json.dumps(sidecar, indent=2) + "\n")
    return sidecar


def sidecar_path(out: Path) -> Path:
    return Path(out).with_suffix(".json")


def prepare(
    source: Source,
    out: Path,
    size: int = 64,
    fraction: float = 0.1,
    seed: int = 0,
    mask: str = "pet",
    workers: int | None = None,
    command: list[str] | None = None,
) -> dict:
    """Build and write; return the sidecar."""
    start = time.monotonic()
    built = build(source, size, fraction, seed, mask, workers)
    options = {"size": size, "fraction": fraction, "seed": seed, "mask": mask}
    return write(built, out, source, options, time.monotonic() - start, command)
