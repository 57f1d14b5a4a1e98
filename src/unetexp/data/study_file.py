"""The study's file on first use of data=pets, as Keras's own datasets do: when
oxford_pets_64_red.npz is missing, it is built once from the official archives in the data
root, downloaded there first (progress shown, resumable, checksummed) unless
data.download=false. No TensorFlow here.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from unetexp.data.load import PETS_FILE, data_root, pets_path
from unetexp.errors import DataError

SHOWN_SKIPS = 20


def ensure_study_file(data_cfg) -> Path:
    """The study's file, built (and its archives downloaded) when it is missing."""
    path = pets_path(data_cfg)
    if path.is_file():
        return path
    if data_cfg.path is not None:  # a file named by the user is never made up
        raise DataError(f"{path}: data file not found")
    _build(data_root(data_cfg.root), path, bool(data_cfg.download))
    return path


def _build(root: Path, out: Path, download: bool) -> None:
    from unetexp.data.download import fetch
    from unetexp.data.pets import STUDY, prepare
    from unetexp.data.pets_files import ARCHIVE_NAMES, Source, source_in_root

    source = source_in_root(root)
    if source is None and not download:
        raise DataError(
            f"{out}: the study's dataset is not there and data.download=false forbids fetching "
            f"it. Build it with `unetexp data prepare --source DIR` (the official images.tar.gz "
            f"and annotations.tar.gz, or their folder) or `--download`, put those two archives in "
            f"{root}, or set data.download=true; or set UNETEXP_DATA_DIR to the folder that holds "
            f"{PETS_FILE}; or train on data=pets_real (bundled, the default), data=folder, "
            f"data=npz data.path=FILE.npz or data=synthetic"
        )
    if source is None:  # the transfer shows its progress once connected: offline is one line
        try:
            source = Source("archives", *(fetch(name, root) for name in ARCHIVE_NAMES))
        except DataError as exc:
            raise DataError(
                f"{out}: the study's dataset is not there and its download failed ({exc}). "
                f"Train on the bundled photographs (data=pets_real, the default), on data of yours "
                f"(data=folder data.images=DIR data.masks=DIR, or data=npz data.path=FILE.npz), "
                f"or on data=synthetic (or set UNETEXP_DATA_DIR to the folder that holds "
                f"{PETS_FILE})"
            ) from None
    print(
        f"unetexp: {out.name} not found: building it once from {source.images.parent} with the "
        f"study's recipe (size 64, fraction 0.1, seed 0, mask pet)",
        file=sys.stderr,
        flush=True,
    )
    sidecar = prepare(source, out, **STUDY, command=["data=pets (first run)"])
    print_summary(sidecar, out, stream=sys.stderr)


def print_summary(sidecar: dict, out: Path, stream=sys.stdout) -> None:
    """What was built, what was skipped and why, and how to train on it."""
    counts, options = sidecar["counts"], sidecar["options"]
    print(
        f"wrote {out}: {counts['written']} pairs of {options['size']}x{options['size']} "
        f"(mask {options['mask']}; {counts['cats']} cats, {counts['dogs']} dogs, "
        f"{counts['breeds']} breeds) from {counts['selected']} selected of "
        f"{counts['images_found']} images, in {sidecar['seconds']:.1f}s",
        file=stream,
    )
    if sidecar["skipped"]:
        print(f"skipped {counts['skipped']}:", file=stream)
        for skip in sidecar["skipped"][:SHOWN_SKIPS]:
            print(f"  {skip['name']}: {skip['reason']}", file=stream)
        if counts["skipped"] > SHOWN_SKIPS:
            print(
                f"  ... and {counts['skipped'] - SHOWN_SKIPS} more (all in the sidecar)",
                file=stream,
            )
    if sidecar["converted"]:
        modes = Counter(item["from"] for item in sidecar["converted"])
        print(
            f"converted to RGB: {counts['converted']} ("
            + ", ".join(f"{k}: {v}" for k, v in sorted(modes.items()))
            + ")",
            file=stream,
        )
    print(f"sidecar: {Path(out).with_suffix('.json')}", file=stream)
