"""`unetexp data prepare`: build the study's dataset, or a bigger one, from the official files;
with `--layout folder`, an npz from the user's own folders of images and masks (data_folder).

(The first run of `data=pets` builds the study's file by itself: `unetexp.data.study_file`.)
No TensorFlow here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from unetexp.commands.base import Parser
from unetexp.errors import ConfigError, DataError, UnetexpError, exit_with_error


def default_name(size: int, fraction: float, seed: int, mask: str) -> str:
    """oxford_pets_64_red.npz for the study's recipe; the options spelt out otherwise."""
    from unetexp.data.pets import STUDY

    name = f"oxford_pets_{size}"
    if (fraction, seed) == (STUDY["fraction"], STUDY["seed"]):
        name += "_red"
    elif fraction < 1:
        name += f"_f{fraction:g}_s{seed}"
    return name + ("" if mask == "pet" else "_border") + ".npz"


def _sha256_option(value: str) -> tuple[str, str]:
    name, _, digest = value.partition("=")
    if not digest or len(digest) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digest):
        raise argparse.ArgumentTypeError(f"{value!r} is not NAME=SHA256 (64 hex digits)")
    return name, digest


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer >= 1")
    return number


def _fraction(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 < number <= 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number in (0, 1]")
    return number


def parser() -> argparse.ArgumentParser:
    from unetexp.commands import data_folder
    from unetexp.data.download import URL_ENV
    from unetexp.data.pets import MASKS, STUDY

    top = Parser(
        prog="unetexp data",
        description="Datasets from the official Oxford-IIIT Pet files or your own folders.",
    )
    actions = top.add_subparsers(dest="action", required=True, metavar="prepare")
    p = actions.add_parser(
        "prepare",
        help="build an npz dataset from the official archives or their folder, or your folders",
        description="Build an npz (images, masks, names, species, breed) and a JSON sidecar from "
        "the official Oxford-IIIT Pet files. Defaults give the study's subset, "
        "<data root>/oxford_pets_64_red.npz, the file data=pets reads. With --layout folder: "
        "the npz data=folder caches, from --images DIR and --masks DIR.",
    )
    p.add_argument(
        "--layout",
        choices=("pets", "folder"),
        default="pets",
        help="pets: the official files (default); folder: your images and masks",
    )
    where = p.add_argument_group("source (one of; default: the official files in the data root)")
    where.add_argument(
        "--source",
        nargs="+",
        metavar="PATH",
        help="the extracted folder (images/, annotations/trimaps/), the folder "
        "holding images.tar.gz and annotations.tar.gz, or those two files",
    )
    where.add_argument(
        "--download",
        action="store_true",
        help="download both archives (resumable, checksummed) into --archive-dir",
    )
    where.add_argument(
        "--archive-dir",
        metavar="DIR",
        help="where --download keeps the archives (default: the data root)",
    )
    where.add_argument(
        "--url-base",
        metavar="URL",
        help=f"a mirror serving the two archives (default: ${URL_ENV}, else the official site)",
    )
    where.add_argument(
        "--sha256",
        action="append",
        type=_sha256_option,
        metavar="NAME=HEX",
        help="expected sha256 of an archive, replacing the official value",
    )
    what = p.add_argument_group("dataset")
    what.add_argument(
        "--size",
        type=_positive_int,
        default=STUDY["size"],
        help="image side in pixels (default %(default)s)",
    )
    what.add_argument(
        "--fraction",
        type=_fraction,
        default=STUDY["fraction"],
        help="share of the images, seeded (default %(default)s: the study's subset; 1 = all 7,390)",
    )
    what.add_argument(
        "--seed", type=int, default=STUDY["seed"], help="subset seed (default %(default)s)"
    )
    what.add_argument(
        "--mask",
        choices=MASKS,
        default=STUDY["mask"],
        help="pet: trimap 1 only (the study); pet+border: 1 and 3 (default %(default)s)",
    )
    what.add_argument(
        "--out",
        metavar="FILE.npz",
        help="output file (default: the data root, oxford_pets_SIZE[...].npz); "
        "the sidecar is FILE.json",
    )
    what.add_argument(
        "--workers", type=_positive_int, help="decoding processes (default: all cores)"
    )
    what.add_argument(
        "--preview",
        metavar="FILE.png",
        help="also save a picture of the first pairs (image | mask overlay)",
    )
    data_folder.add_arguments(p)
    return top


def _source(args, root: Path):
    from unetexp.data.download import fetch
    from unetexp.data.pets_files import ARCHIVE_NAMES, Source, find_source, source_in_root

    if args.source and args.download:
        raise ConfigError("--source and --download: give one of them")
    if args.source:
        return find_source(args.source)
    if args.download:
        folder = Path(args.archive_dir) if args.archive_dir else root
        paths = [
            fetch(name, folder, args.url_base, dict(args.sha256 or [])) for name in ARCHIVE_NAMES
        ]
        return Source("archives", *paths)
    source = source_in_root(root)
    if source is None:
        raise DataError(
            f"{root}: no official Oxford-IIIT Pet files in the data root: pass "
            f"--source DIR (images/ and annotations/trimaps/, or the two archives) "
            f"or --download"
        )
    return source


def main(argv: list[str]) -> int:
    from unetexp.data.load import PETS_FILE, data_root
    from unetexp.data.pets import prepare
    from unetexp.data.study_file import print_summary

    args = parser().parse_args(argv)
    try:
        if args.layout == "folder":
            from unetexp.commands.data_folder import prepare as prepare_folder

            prepare_folder(args, argv)
            return 0
        root = data_root()
        source = _source(args, root)
        out = Path(args.out or root / default_name(args.size, args.fraction, args.seed, args.mask))
        if out.suffix != ".npz":
            raise ConfigError(f"--out {out}: the file name must end with .npz")
        sidecar = prepare(
            source,
            out,
            args.size,
            args.fraction,
            args.seed,
            args.mask,
            args.workers,
            command=["unetexp", "data", *argv],
        )
        print_summary(sidecar, out)
        if args.preview:
            from unetexp.data.preview import save_preview

            print(f"preview: {save_preview(out, args.preview)}")
        if out.resolve() == (root / PETS_FILE).resolve():
            print("train on it: python -m unetexp data=pets")
        else:
            print(f"train on it: python -m unetexp data=npz data.path={out}")
    except UnetexpError as exc:
        exit_with_error(exc)
    return 0
