"""Where the official Oxford-IIIT Pet files are (an extracted folder, or the two archives)
and what they hold: NAME -> image and trimap, read from the folder or straight from the tars."""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from unetexp.errors import DataError, one_line

ARCHIVE_NAMES = ("images.tar.gz", "annotations.tar.gz")


@dataclass
class Source:
    """Where the official files are: an extracted folder, or the two archives."""

    kind: str  # "folder" | "archives"
    images: Path  # folder of NAME.jpg, or images.tar.gz
    trimaps: Path  # folder of NAME.png, or annotations.tar.gz

    def describe(self) -> dict:
        out: dict[str, str | dict[str, str]] = {
            "kind": self.kind,
            "images": str(self.images),
            "trimaps": str(self.trimaps),
        }
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
    found = [Path(p) for p in paths]
    for path in found:
        if not path.exists():
            raise DataError(f"{path}: --source not found")
    if len(found) == 1 and found[0].is_dir():
        source = _source_in(found[0])
        if source is None:
            raise DataError(
                f"{found[0]}: no Oxford-IIIT Pet files there: expected images/*.jpg and "
                f"annotations/trimaps/*.png, or {' and '.join(ARCHIVE_NAMES)}"
            )
        return source
    if len(found) == 2 and all(p.is_file() for p in found):
        annotations = [p for p in found if p.name.startswith("annotations")]
        if len(annotations) == 1:
            images = found[1 - found.index(annotations[0])]
            return Source("archives", images, annotations[0])
    raise DataError(
        f"--source {' '.join(map(str, found))}: give one folder, or the two archives "
        f"{' and '.join(ARCHIVE_NAMES)}"
    )


def source_in_root(root: Path) -> Source | None:
    """Official files put in the data root, for the first run of data=pets."""
    return _source_in(Path(root)) if Path(root).is_dir() else None


def _wanted(member_path: str, folder: str, suffix: str) -> str | None:
    """NAME when member_path is <...>/folder/NAME.suffix (no macOS ._ companions), else None."""
    path = PurePosixPath(member_path)
    if (
        len(path.parts) >= 2
        and path.parts[-2] == folder
        and path.suffix.lower() == suffix
        and not path.name.startswith("._")
    ):
        return path.stem
    return None


def _open_tar(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, "r:*")  # the official .tar.gz may be plain tar or gzip
    except (tarfile.TarError, OSError) as exc:
        raise DataError(f"{path}: not a readable tar archive ({one_line(exc)})") from None


def _tar_members(archive: tarfile.TarFile, path: Path, folder: str, suffix: str) -> dict:
    """NAME -> TarInfo of the archive's <...>/folder/NAME.suffix files (one pass over it)."""
    try:
        return {
            name: m
            for m in archive.getmembers()
            if m.isfile() and (name := _wanted(m.name, folder, suffix)) is not None
        }
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(
            f"{path}: archive is damaged ({one_line(exc)}); download it again"
        ) from None


def _folder_files(folder: Path, kind: str, suffix: str) -> dict:
    return {
        name: p for p in folder.iterdir() if (name := _wanted(f"{kind}/{p.name}", kind, suffix))
    }


@dataclass
class Catalog:
    """What a source holds: NAME -> file path (folder) or tar member (archives)."""

    source: Source
    images: dict
    trimaps: dict
    archives: tuple = ()  # open TarFiles (images, trimaps), closed by close()

    @classmethod
    def open(cls, source: Source) -> Catalog:
        if source.kind == "folder":
            catalog = cls(
                source,
                _folder_files(source.images, "images", ".jpg"),
                _folder_files(source.trimaps, "trimaps", ".png"),
            )
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
        with_trimap = sorted(
            (n for n in selected if n in self.trimaps), key=lambda n: self.trimaps[n].offset
        )
        trimap_bytes = {n: trimaps.extractfile(self.trimaps[n]).read() for n in with_trimap}
        for name in sorted(selected, key=lambda n: self.images[n].offset):
            yield name, images.extractfile(self.images[name]).read(), trimap_bytes.get(name)

    def close(self) -> None:
        for archive in self.archives:
            archive.close()
