"""data=pets_real, the default: 714 real Oxford-IIIT Pet photographs at 64x64 shipped inside the
package (`bundled/`, CC BY-SA 4.0, provenance in its README.md), like scikit-learn's bundled
datasets: read from the installed package, never downloaded, the same bytes on every machine."""

from __future__ import annotations

from importlib import resources

from unetexp.data.identity import file_sha256
from unetexp.data.load import Dataset, load_npz
from unetexp.errors import DataError

FILE = "pets_real_64.npz"
# how runs name it (tag data_source, messages): the same on every machine, so that runs logged
# from two installs to one tracking server are runs of one data source
SOURCE = f"bundled:{FILE}"
SIDE = 64
SHA256 = "295e24fc8d1caf16836d017e9f75de710d23878d5c8556f0ef7b8cd9f02963bd"


def bundled_file():
    """The bundled npz as an importlib.resources Traversable (a path in a normal install)."""
    return resources.files("unetexp.data").joinpath("bundled", FILE)


def load_pets_real() -> Dataset:
    """The bundled set, with its file's sha256 (MLflow's digest: the same on every machine);
    other bytes than the released ones stop the run rather than train on them."""
    with resources.as_file(bundled_file()) as path:
        sha = file_sha256(path) if path.is_file() else None
        if sha not in (None, SHA256):
            raise DataError(
                f"{path}: the bundled set's sha256 is {sha[:12]}..., not {SHA256[:12]}...: "
                f"the file is damaged, reinstall unetexp"
            )
        dataset = load_npz(path)  # a missing file: one line naming it
    dataset.source, dataset.sha256 = SOURCE, sha
    return dataset
