"""The image side of the data a config names, read from the file's header without loading
its arrays: a sweep checks every job's depth against it before the first job trains."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from unetexp.data.load import pets_path
from unetexp.errors import DataError

STUDY_SIDE = 64  # data=pets builds the study's 64x64 file on first use
BUNDLED_SIDE = 64  # data=pets_real: the bundled pets_real_64.npz


def _npy_shape(handle) -> tuple[int, ...]:
    major, _ = np.lib.format.read_magic(handle)
    read = (
        np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
    )
    return read(handle)[0]


def _npz_images_shape(path: Path) -> tuple[int, ...]:
    with zipfile.ZipFile(path) as archive, archive.open("images.npy") as handle:
        return _npy_shape(handle)


def _npy_file_shape(path: Path) -> tuple[int, ...]:
    with open(path, "rb") as handle:
        return _npy_shape(handle)


def image_sides(data_cfg) -> tuple[set[int], str]:
    """(the image sides, their source) of the data `data_cfg` names, for `check_depth`; a file
    that cannot tell its shape is left to the loader, whose message is the precise one."""
    if data_cfg.name == "synthetic":
        return {data_cfg.size}, "data.size"
    if data_cfg.name == "pets_real":
        return {BUNDLED_SIDE}, "data=pets_real (the bundled set)"
    if data_cfg.name == "folder":  # converted to data.size; missing or empty folders stop here
        from unetexp.data.folder_files import list_folder

        list_folder(Path(data_cfg.images), "data.images")
        list_folder(Path(data_cfg.masks), "data.masks")
        return {data_cfg.size}, "data.size"
    if data_cfg.name == "seed_npy":
        key, path, read = "data.images", Path(data_cfg.images), _npy_file_shape
    else:
        path = Path(data_cfg.path) if data_cfg.name == "npz" else pets_path(data_cfg)
        key, read = "data.path", _npz_images_shape
    if data_cfg.name == "pets" and data_cfg.path is None and not path.is_file():
        return {STUDY_SIDE}, f"{path} (built on first use)"
    if not path.is_file():
        raise DataError(f"{key}={path}: data file not found")
    try:
        shape = read(path)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        return set(), str(path)
    return set(shape[1:3]) if len(shape) == 4 else set(), str(path)
