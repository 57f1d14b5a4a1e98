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
import io
import json
import math
import os
import tarfile
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path, PurePosixPath

import numpy as np

from unetexp.errors import DataError
from unetexp.data.progress import Progress

ARCHIVE_NAMES = ("images.tar.gz", "annotations.tar.gz")
MASKS = ("pet", "pet+border")
STUDY = {"size": 64, "fraction": 0.1, "seed": 0, "mask": "pet"}  # oxford_pets_64_red.npz
CHUNK = 32  # pairs per task sent to a worker
FORMAT = "unetexp-pets/1"
RECIPE = (
    "names = sorted stems of images/*.jpg; subset = names[i] for i in sorted("
    "numpy.random.default_rng(seed).permutation(len(names))[:floor(fraction*len(names)+0.5)]); "
    "image: PIL convert('RGB'), resize((size, size), BILINEAR); trimap: resize NEAREST; "
    "mask: trimap == 1 (pet) or trimap in {1, 3} (pet+border); unusable pairs skipped")


# ---------------------------------------------------------------- sources


@dataclass
class Source:
    """Where the official files are: an extracted folder, or the two archives."""

    kind: str  # "folder" | "archives"
    images: Path  # folder of NAME.jpg, or images.tar.gz
    trimaps: Path  # folder of NAME.png, or annotations.tar.gz

    def describe(self) -> dict:
        out = {"kind": self.kind, "images": str(self.images), "trimaps": str(self.trimaps)}
        if self.kind == "archives":
            from unetexp.data.download import sha256_file

            out["sha256"] = {p.name: sha256_file(p) for p in (self.images, self.trimaps)}
        return out


def _source_in(folder: Path) -> Source | None:
    """The official layout inside `folder` (or its oxford-iiit-pet/), if there is one."""
    for base in (folder, folder / "oxford-iiit-pet"):
        if (base / "images").is_dir() and (base / "annotations" / "trimaps").is_dir():
            return Source("folder", base / "images", base / "annotations" / "trimaps")
        if all((base / name).is_file() for name in ARCHIVE_NAMES):
            return Source("archives", base / ARCHIVE_NAMES[0], base / ARCHIVE_NAMES[1])
    return None


def find_source(paths: list[str | Path]) -> Source:
    """--source DIR (extracted folder or the folder holding both archives) or the two archives."""
    paths = [Path(p) for p in paths]
    for path in paths:
        if not path.exists():
            raise DataError(f"{path}: --source not found")
    if len(paths) == 1 and paths[0].is_dir():
        source = _source_in(paths[0])
        if source is None:
            raise DataError(f"{paths[0]}: no Oxford-IIIT Pet files there: expected images/*.jpg and "
                            f"annotations/trimaps/*.png, or {' and '.join(ARCHIVE_NAMES)}")
        return source
    if len(paths) == 2 and all(p.is_file() for p in paths):
        annotations = [p for p in paths if p.name.startswith("annotations")]
        if len(annotations) == 1:
            images = paths[1 - paths.index(annotations[0])]
            return Source("archives", images, annotations[0])
    raise DataError(f"--source {' '.join(map(str, paths))}: give one folder, or the two archives "
                    f"{' and '.join(ARCHIVE_NAMES)}")


def source_in_root(root: Path) -> Source | None:
    """Official files put in the data root, for the first run of data=pets."""
    return _source_in(Path(root)) if Path(root).is_dir() else None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _wanted(member_path: str, folder: str, suffix: str) -> str | None:
    """NAME when member_path is <...>/folder/NAME.suffix (no macOS ._ companions), else None."""
    path = PurePosixPath(member_path)
    if len(path.parts) >= 2 and path.parts[-2] == folder and path.suffix.lower() == suffix \
            and not path.name.startswith("._"):
        return path.stem
    return None


def _open_tar(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, "r:*")  # the official .tar.gz may be plain tar or gzip
    except (tarfile.TarError, OSError) as exc:
        raise DataError(f"{path}: not a readable tar archive ({_one_line(exc)})") from None


def _tar_members(archive: tarfile.TarFile, path: Path, folder: str, suffix: str) -> dict:
    """NAME -> TarInfo of the archive's <...>/folder/NAME.suffix files (one pass over it)."""
    try:
        return {name: m for m in archive.getmembers()
                if m.isfile() and (name := _wanted(m.name, folder, suffix)) is not None}
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"{path}: archive is damaged ({_one_line(exc)}); download it again") from None


def _folder_files(folder: Path, kind: str, suffix: str) -> dict:
    return {name: p for p in folder.iterdir() if (name := _wanted(f"{kind}/{p.name}", kind, suffix))}


@dataclass
class Catalog:
    """What a source holds: NAME -> file path (folder) or tar member (archives)."""

    source: Source
    images: dict
    trimaps: dict
    archives: tuple = ()  # open TarFiles (images, trimaps), closed by close()

    @classmethod
    def open(cls, source: Source) -> "Catalog":
        if source.kind == "folder":
            catalog = cls(source, _folder_files(source.images, "images", ".jpg"),
                          _folder_files(source.trimaps, "trimaps", ".png"))
        else:
            images = _open_tar(source.images)
            try:
                trimaps = _open_tar(source.trimaps)
            except DataError:
                images.close()
                raise
            catalog = cls(source, {}, {}, (images, trimaps))
            try:
                catalog.images = _tar_members(images, source.images, "images", ".jpg")
                catalog.trimaps = _tar_members(trimaps, source.trimaps, "trimaps", ".png")
            except DataError:
                catalog.close()
                raise
        if not catalog.images:
            catalog.close()
            raise DataError(f"{source.images}: no images/*.jpg found")
        return catalog

    def names(self) -> list[str]:
        return sorted(self.images)

    def items(self, selected: list[str]):
        """(name, image bytes or path, trimap bytes or path or None) for each selected name."""
        if not self.archives:
            for name in selected:
                trimap = self.trimaps.get(name)
                yield name, str(self.images[name]), str(trimap) if trimap else None
            return
        images, trimaps = self.archives
        # trimaps are small: read the selected ones first; both archives in archive order, as
        # seeking back in a gzip stream means decompressing it again from the start
        with_trimap = sorted((n for n in selected if n in self.trimaps), key=lambda n: self.trimaps[n].offset)
        trimap_bytes = {n: trimaps.extractfile(self.trimaps[n]).read() for n in with_trimap}
        for name in sorted(selected, key=lambda n: self.images[n].offset):
            yield name, images.extractfile(self.images[name]).read(), trimap_bytes.get(name)

    def close(self) -> None:
        for archive in self.archives:
            archive.close()


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


# ---------------------------------------------------------------- decoding (runs in workers)


def decode_pair(image: bytes | str, trimap: bytes | str | None, size: int, mask: str):
    """(image uint8 (S,S,3), mask uint8 (S,S), converted-from mode or None) or a skip reason."""
    import warnings

    from PIL import Image

    if trimap is None:
        return "no trimap"
    with warnings.catch_warnings():  # palette-transparency and EXIF notes: not our concern
        warnings.simplefilter("ignore")
        try:
            data = image if isinstance(image, bytes) else Path(image).read_bytes()
            picture = Image.open(io.BytesIO(data))
            picture.load()
            converted = None if picture.mode == "RGB" else picture.mode
            rgb = picture.convert("RGB") if converted else picture
        except Exception as exc:  # PIL raises many kinds: report, skip, go on
            return f"image does not decode ({type(exc).__name__}: {_one_line(exc)})"
        try:
            data = trimap if isinstance(trimap, bytes) else Path(trimap).read_bytes()
            tri = Image.open(io.BytesIO(data))
            tri.load()
        except Exception as exc:
            return f"trimap does not decode ({type(exc).__name__}: {_one_line(exc)})"
    if tri.size != rgb.size:
        return f"trimap is {tri.size[0]}x{tri.size[1]} but the image is {rgb.size[0]}x{rgb.size[1]}"
    values = np.asarray(tri)
    if values.ndim == 3:  # an RGB(A) trimap: the labels are in every channel
        values = values[..., 0]
    found = np.flatnonzero(np.bincount(values.ravel().astype(np.int64), minlength=4))
    if not np.isin(found, (1, 2, 3)).all():
        return f"trimap values {found[:6].tolist()} are not 1 (pet), 2 (background), 3 (border)"
    small = np.asarray(rgb.resize((size, size), Image.BILINEAR), dtype=np.uint8)
    labels = np.asarray(Image.fromarray(values.astype(np.uint8)).resize((size, size), Image.NEAREST))
    binary = (labels == 1) if mask == "pet" else np.isin(labels, (1, 3))
    return small, binary.astype(np.uint8), converted


def _decode_chunk(items: list, size: int, mask: str) -> list:
    return [(name, decode_pair(image, trimap, size, mask)) for name, image, trimap in items]


# ---------------------------------------------------------------- building


@dataclass
class Built:
    images: np.ndarray
    masks: np.ndarray
    names: list[str]
    skipped: list[dict] = field(default_factory=list)  # {"name", "reason"}
    converted: list[dict] = field(default_factory=list)  # {"name", "from"}
    found: dict = field(default_factory=dict)  # images, trimaps, selected


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _decode_all(items, selected: list[str], size: int, mask: str, workers: int, chunk: int):
    """Decode into arrays preallocated in `selected` order (no second copy of the dataset).

    Returns images (N,S,S,3), masks (N,S,S,1) and NAME -> (True, converted mode or None) or
    (False, skip reason); a pool of `workers` processes does the decoding unless the job is small."""
    where = {name: i for i, name in enumerate(selected)}
    images = np.zeros((len(selected), size, size, 3), np.uint8)
    masks = np.zeros((len(selected), size, size, 1), np.uint8)
    outcome: dict[str, tuple[bool, str | None]] = {}
    progress = Progress(f"decoding {len(selected)} pairs", len(selected))

    def store(name, result):
        if isinstance(result, str):
            outcome[name] = (False, result)
        else:
            images[where[name]], masks[where[name], ..., 0], converted = result
            outcome[name] = (True, converted)
        progress.update()

    if workers <= 1 or len(selected) <= 2 * chunk:
        for name, image, trimap in items:
            store(name, decode_pair(image, trimap, size, mask))
    else:
        def collect(done):
            for future in done:
                for name, result in future.result():
                    store(name, result)

        # spawn, not fork: the caller may be a training process with threads (MLflow, Hydra)
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            pending, batch = set(), []
            for item in items:
                batch.append(item)
                if len(batch) == chunk:
                    pending.add(pool.submit(_decode_chunk, batch, size, mask))
                    batch = []
                    if len(pending) >= 2 * workers:  # bound the bytes held in memory
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        collect(done)
            if batch:
                pending.add(pool.submit(_decode_chunk, batch, size, mask))
            collect(wait(pending)[0])
    progress.close()
    return images, masks, outcome


def build(source: Source, size: int = 64, fraction: float = 0.1, seed: int = 0, mask: str = "pet",
          workers: int | None = None, chunk: int = CHUNK) -> Built:
    """Decode the recipe's subset of `source` into arrays; never stops on a bad pair."""
    catalog = Catalog.open(source)
    try:
        names = catalog.names()
        selected = select(names, fraction, seed)
        images, masks, outcome = _decode_all(catalog.items(selected), selected, size, mask,
                                             workers or default_workers(), chunk)
    finally:
        catalog.close()
    kept = [n for n in selected if outcome[n][0]]
    if not kept:
        raise DataError(f"{source.images}: none of the {len(selected)} selected pairs could be used "
                        f"(first: {selected[0]}: {outcome[selected[0]][1]})")
    for j, i in enumerate(i for i, n in enumerate(selected) if outcome[n][0]):
        if i != j:  # close the gaps left by skipped pairs, in place
            images[j], masks[j] = images[i], masks[i]
    return Built(
        images=images[:len(kept)],
        masks=masks[:len(kept)],
        names=kept,
        skipped=[{"name": n, "reason": outcome[n][1]} for n in selected if not outcome[n][0]],
        converted=[{"name": n, "from": outcome[n][1]} for n in kept if outcome[n][1]],
        found={"images_found": len(names), "trimaps_found": len(catalog.trimaps),
               "selected": len(selected)},
    )


# ---------------------------------------------------------------- writing


def _array_sha256(array: np.ndarray) -> str:
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(np.ascontiguousarray(array))  # the buffer itself: no copy
    return digest.hexdigest()


def write(built: Built, out: Path, source: Source, options: dict, seconds: float,
          command: list[str] | None = None) -> dict:
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
        np.savez_compressed(partial, **arrays)
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
            "arrays": {k: {"shape": list(v.shape), "dtype": v.dtype.str, "sha256": _array_sha256(v)}
                       for k, v in arrays.items()},
        },
        "seconds": round(seconds, 2),
    }
    sidecar_path(out).write_text(json.dumps(sidecar, indent=2) + "\n")
    return sidecar


def sidecar_path(out: Path) -> Path:
    return Path(out).with_suffix(".json")


def prepare(source: Source, out: Path, size: int = 64, fraction: float = 0.1, seed: int = 0,
            mask: str = "pet", workers: int | None = None, command: list[str] | None = None) -> dict:
    """Build and write; return the sidecar."""
    start = time.monotonic()
    built = build(source, size, fraction, seed, mask, workers)
    options = {"size": size, "fraction": fraction, "seed": seed, "mask": mask}
    return write(built, out, source, options, time.monotonic() - start, command)
