"""`unetexp data prepare --layout folder`: the npz that `data=folder` caches, from a folder of
images and a folder of masks, for users who prefer one file (data/folder.py). No TensorFlow."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from unetexp.errors import ConfigError


def _values(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or any(not 0 <= v <= 65535 for v in values) or len(set(values)) < len(values):
        raise argparse.ArgumentTypeError(f"{text!r} is not distinct integers in 0..65535, e.g. 1,3")
    return values


def add_arguments(prepare: argparse.ArgumentParser) -> None:
    group = prepare.add_argument_group(
        "--layout folder: your own images and masks, paired by file stem"
    )
    group.add_argument("--images", metavar="DIR", help="the images (any format Pillow reads)")
    group.add_argument("--masks", metavar="DIR", help="the masks: PNG in {0,1} or {0,255}")
    group.add_argument(
        "--mask-values",
        type=_values,
        metavar="V[,V...]",
        help="the object's mask values, e.g. 1 for a trimap (default: 1 of {0,1}, 255 of {0,255})",
    )
    group.add_argument(
        "--strict", action="store_true", help="stop at the first unusable pair instead of skipping"
    )


def prepare(args, argv: list[str]) -> None:
    from unetexp.data.folder import prepare_folder, print_summary

    misplaced = [f for f in ("source", "download", "archive_dir", "url_base") if getattr(args, f)]
    if misplaced:
        raise ConfigError(f"--{misplaced[0].replace('_', '-')} is for --layout pets")
    if not (args.images and args.masks and args.out):
        raise ConfigError("--layout folder needs --images DIR, --masks DIR and --out FILE.npz")
    out = Path(args.out)
    if out.suffix != ".npz":
        raise ConfigError(f"--out {out}: the file name must end with .npz")
    options = {"size": args.size, "mask_values": args.mask_values, "strict": args.strict}
    sidecar = prepare_folder(
        Path(args.images), Path(args.masks), out, options, command=["unetexp", "data", *argv]
    )
    print_summary(sidecar, out, stream=sys.stdout)
    if args.preview:
        from unetexp.data.preview import save_preview

        print(f"preview: {save_preview(out, args.preview)}")
    print(f"train on it: python -m unetexp data=npz data.path={out}")
