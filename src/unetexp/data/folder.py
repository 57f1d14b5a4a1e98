"""data=folder: the user's own binary segmentation data, a folder of images and a folder of masks
(`data.images=DIR data.masks=DIR`), converted once into an npz cached in the data root under the
key of the files' content (folder_files.Inventory.key): a changed file is converted again, an
unchanged folder starts at once. `unetexp data prepare --layout folder` writes the same npz.

Pairs that cannot be used are skipped and listed, never half-built: images without a mask,
masks without an image, several files of one stem, unreadable files, masks of another size than
their image or with unexpected values. `data.strict=true` stops at the first instead.
"""

from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from unetexp.data.folder_files import Inventory, decode_pair
from unetexp.data.load import Dataset, data_root, load_npz
from unetexp.data.progress import Progress
from unetexp.errors import DataError
from unetexp.host import usable_cores

FORMAT = "unetexp-folder/1"
CACHE = "folders"  # <data root>/folders/<key>.npz
SHOWN = 5  # names shown per kind of skip (all are in the sidecar)
RECIPE = (
    "pairs: files of the images and masks folders with the same stem, in stem order; image: PIL "
    "convert('RGB'), resize((size, size), BILINEAR); mask: one channel, object = mask_values, "
    "else 1 of {0, 1} or 255 of {0, 255}, resize NEAREST; unusable pairs skipped"
)


def _skip(path: Path, reason: str) -> dict:
    return {"name": path.name, "reason": reason, "path": str(path)}


def _skip_list(found: Inventory) -> list[dict]:
    return (
        [_skip(found.images_dir / n, "image without a mask") for n in found.no_mask]
        + [_skip(found.masks_dir / n, "mask without an image") for n in found.no_image]
        + found.duplicates
    )


def _strict_stop(skip: dict) -> DataError:
    return DataError(
        f"{skip['path']}: {skip['reason']} (data.strict=true stops at the first unusable pair)"
    )


def convert(found: Inventory, size: int, mask_values, strict: bool) -> dict:
    """Decode every pair (threads: Pillow decodes outside the GIL) in stem order."""
    skipped = _skip_list(found)
    if strict and skipped:
        raise _strict_stop(skipped[0])
    progress = Progress(f"converting {len(found.pairs)} pairs", len(found.pairs))
    images, masks, names, converted = [], [], [], []
    with ThreadPoolExecutor(usable_cores()) as pool:
        results = pool.map(lambda p: decode_pair(p[1], p[2], size, mask_values), found.pairs)
        for (stem, image, _), result in zip(found.pairs, results, strict=True):
            progress.update()
            if isinstance(result, str):
                if strict:
                    pool.shutdown(cancel_futures=True)
                    raise _strict_stop(_skip(image, result))
                skipped.append(_skip(image, result))
                continue
            images.append(result[0])
            masks.append(result[1][..., None])
            names.append(stem)
            if result[2]:
                converted.append({"name": stem, "from": result[2]})
    progress.close()
    if not names:
        first = skipped[0]
        raise DataError(
            f"{found.source}: no usable pair of image and mask ({len(found.images)} images, "
            f"{len(found.masks)} masks; first: {first['name']}: {first['reason']})"
        )
    return {"images": images, "masks": masks, "names": names, "skipped": skipped, "conv": converted}


def counts(found: Inventory, sidecar_skipped: list[dict], written: int) -> dict[str, int]:
    """What a run records of the folder (MLflow tags data_<count>)."""
    return {
        "images_found": sum(len(v) for v in found.images.values()),
        "masks_found": sum(len(v) for v in found.masks.values()),
        "skipped": len(sidecar_skipped),
        "no_mask": len(found.no_mask),
        "no_image": len(found.no_image),
        "unusable": len(sidecar_skipped) - len(found.no_mask) - len(found.no_image),
        "written": written,
    }


def write(found: Inventory, out: Path, options: dict, key: str, command=None) -> dict:
    """Convert, write OUT.npz atomically and its sidecar OUT.json; return the sidecar."""
    from unetexp import __version__

    start = time.monotonic()
    built = convert(found, options["size"], options["mask_values"], options["strict"])
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f"{out.name}.{os.getpid()}.partial.npz")  # unique: parallel jobs
    try:
        np.savez_compressed(
            partial,
            images=np.stack(built["images"]),
            masks=np.stack(built["masks"]),
            names=np.array(built["names"]),
        )
        partial.replace(out)  # readers see no file or the whole file, never half
    finally:
        partial.unlink(missing_ok=True)
    sidecar = {
        "format": FORMAT,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "unetexp_version": __version__,
        "command": command,
        "source": {
            "kind": "folder",
            "images": str(found.images_dir),
            "masks": str(found.masks_dir),
        },
        "options": {k: v for k, v in options.items() if k != "strict"},
        "recipe": RECIPE,
        "key": key,
        "counts": counts(found, built["skipped"], len(built["names"])),
        "skipped": built["skipped"],
        "converted": built["conv"],
        "seconds": round(time.monotonic() - start, 2),
    }
    out.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n")
    return sidecar


def print_summary(sidecar: dict, out: Path, stream=None) -> None:
    """What was written and, per kind, what was skipped (the first few named); stderr unless
    `stream` says otherwise."""
    stream = stream or sys.stderr
    c, size = sidecar["counts"], sidecar["options"]["size"]
    print(
        f"wrote {out}: {c['written']} pairs of {size}x{size} from {c['images_found']} images and "
        f"{c['masks_found']} masks, in {sidecar['seconds']:.1f}s",
        file=stream,
    )
    if c["skipped"]:
        print(f"skipped {c['skipped']}:", file=stream)
    for kind in ("image without a mask", "mask without an image"):
        names = [s["name"] for s in sidecar["skipped"] if s["reason"] == kind]
        if names:
            more = f", ... ({len(names) - SHOWN} more)" if len(names) > SHOWN else ""
            print(f"  {kind}: {len(names)} ({', '.join(names[:SHOWN])}{more})", file=stream)
    unusable = [s for s in sidecar["skipped"] if "without a" not in s["reason"]]
    for skip in unusable[: 4 * SHOWN]:
        print(f"  {skip['name']}: {skip['reason']}", file=stream)
    if len(unusable) > 4 * SHOWN:
        print(f"  ... and {len(unusable) - 4 * SHOWN} more", file=stream)
    if c["skipped"]:
        print(f"  (all in {out.with_suffix('.json')})", file=stream)


def options_of(data_cfg) -> dict:
    values = list(data_cfg.mask_values) if data_cfg.mask_values else None
    return {"size": int(data_cfg.size), "mask_values": values, "strict": bool(data_cfg.strict)}


def content_key(found: Inventory, options: dict) -> str:
    """The cache's key: the files' content and what the conversion does with them."""
    return found.key({k: v for k, v in options.items() if k != "strict"} | {"format": FORMAT})


def prepare_folder(images: Path, masks: Path, out: Path, options: dict, command) -> dict:
    """`unetexp data prepare --layout folder`: the npz a run on these folders caches."""
    found = Inventory.scan(images, masks)
    return write(found, out, options, content_key(found, options), command)


def open_folder(data_cfg) -> Dataset:
    """The folder pair as a Dataset, converted on first use, from the cache afterwards."""
    found = Inventory.scan(Path(data_cfg.images), Path(data_cfg.masks))
    options = options_of(data_cfg)
    key = content_key(found, options)
    out = data_root(data_cfg.root) / CACHE / f"{key[:24]}.npz"
    sidecar_file = out.with_suffix(".json")
    if out.is_file() and sidecar_file.is_file():
        sidecar = json.loads(sidecar_file.read_text())
        if options["strict"] and sidecar["skipped"]:
            raise _strict_stop(sidecar["skipped"][0])
        print(
            f"unetexp: data=folder: {sidecar['counts']['written']} pairs from the cache {out} "
            f"({sidecar['counts']['skipped']} skipped; converted once, a changed file converts "
            f"again)",
            file=sys.stderr,
            flush=True,
        )
    else:
        print(f"unetexp: data=folder: {found.source}: converting once", file=sys.stderr)
        sidecar = write(found, out, options, key, command=["data=folder"])
        print_summary(sidecar, out)
    dataset = load_npz(out)
    dataset.source, dataset.sha256 = found.source, key
    dataset.counts = {k: v for k, v in sidecar["counts"].items() if k != "written"}
    return dataset
