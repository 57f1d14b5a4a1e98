"""What a run was trained on, as tags: the file, its image count and its sha256, so that every
figure can say which data it comes from (results/provenance.py reads them back)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(*paths: str | Path) -> str:
    """sha256 of the files' bytes, in order (the seed_npy pair hashes as one)."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def data_identity(
    source: str, images, masks, sha256: str | None = None, counts: dict | None = None
) -> dict[str, str]:
    """The tags a job run records: the hash the loader knows (`sha256`: the bundled file's, a
    folder's content key), else its files' hash, or for generated data the arrays' hash; and a
    folder's counts of pairs found and skipped (`data_<count>`)."""
    files = [Path(p) for p in source.split(" + ")]
    if sha256:
        sha = sha256
    elif all(p.is_file() for p in files):
        sha = file_sha256(*files)
    else:
        sha = hashlib.sha256(images.tobytes() + masks.tobytes()).hexdigest()
    extra = {f"data_{k}": str(v) for k, v in (counts or {}).items()}
    return {"data_source": source, "data_count": str(len(images)), "data_sha256": sha, **extra}
