"""Fetch the official Oxford-IIIT Pet archives: streamed, resumable, checked. Stdlib only.

A transfer that breaks keeps its bytes in `NAME.part` and continues with an HTTP Range request,
within the same command (a few retries) or the next one. A finished file is renamed from `.part`
only once its size and sha256 match; a mismatch deletes it and stops with one line.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from unetexp.data.progress import Progress
from unetexp.errors import DataError

OFFICIAL_URL = "https://www.robots.ox.ac.uk/~vgg/data/pets/data/"
URL_ENV = "UNETEXP_PETS_URL"  # a mirror (or a test server) serving the same two files

# The official archives. NOT verified by downloading them here (this machine is offline): the
# sizes and sha256 are those published by TensorFlow Datasets (oxford_iiit_pet/checksums.tsv) and
# repeated by torchvision's prototype datasets and other projects; torchvision's MD5 pins
# (images 5c4f3ee8e5d25df40f4fd59a7f44e54c, annotations 95a8c909bbe2e81eed6a22bccdf3f68f) are
# from the same files. Tests replace them with the checksums of their own fixture archives.
ARCHIVES: dict[str, dict] = {
    "images.tar.gz": {
        "bytes": 791_918_971,
        "sha256": "67195c5e1c01f1ab5f9b6a5d22b8c27a580d896ece458917e61d459337fa318d",
    },
    "annotations.tar.gz": {
        "bytes": 19_173_078,
        "sha256": "52425fb6de5c424942b7626b428656fcbd798db970a937df61750c0f1d358e91",
    },
}
CHUNK = 1 << 20
ATTEMPTS = 4  # per file, each resuming where the previous one stopped
TIMEOUT_S = 30


def url_base(base: str | None = None) -> str:
    """--url-base, else $UNETEXP_PETS_URL, else the official site; always ends with '/'."""
    base = base or os.environ.get(URL_ENV) or OFFICIAL_URL
    return base if base.endswith("/") else base + "/"


def sha256_file(path: Path) -> str:
    """sha256 of a file, read once per version of it: the download check and the sidecar share it."""
    stat = Path(path).stat()
    return _sha256(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def expected_for(name: str, sha256: dict[str, str] | None = None) -> dict:
    """The size and sha256 a file must have: the official table, or --sha256 NAME=HEX (no size)."""
    if sha256 and name in sha256:
        return {"bytes": None, "sha256": sha256[name].lower()}
    return dict(ARCHIVES[name])


def _verify(path: Path, name: str, expected: dict, url: str) -> None:
    """Raise DataError (deleting the file) unless size and sha256 match."""
    size = path.stat().st_size
    if expected["bytes"] is not None and size != expected["bytes"]:
        path.unlink()
        raise DataError(
            f"{url}: got {size} bytes, {name} has {expected['bytes']}; the download "
            f"was deleted (a wrong file or mirror? check --url-base/{URL_ENV})"
        )
    got = sha256_file(path)
    if expected["sha256"] and got != expected["sha256"]:
        path.unlink()
        raise DataError(
            f"{url}: sha256 {got} does not match the known {expected['sha256']} of "
            f"{name}; the download was deleted, nothing was built"
        )


def _transfer(url: str, part: Path, progress_label: str) -> bool:
    """One HTTP request appending to `part` from its current size; True when the body is complete."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to send: the part is whole
            return True
        raise DataError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    with response:
        if have and response.status != 206:  # the server ignores Range: start again
            have = 0
        length = response.headers.get("Content-Length")
        expected_total = have + int(length) if length is not None else None
        progress = Progress(progress_label, expected_total, unit="B", initial=have)
        received = have
        try:
            with open(part, "ab" if have else "wb") as out:
                while block := response.read(CHUNK):
                    out.write(block)
                    received += len(block)
                    progress.update(len(block))
        finally:
            progress.close()
    return expected_total is None or received >= expected_total


def fetch(
    name: str, dest_dir: Path, base: str | None = None, sha256: dict[str, str] | None = None
) -> Path:
    """Download `base/name` into dest_dir (resuming a .part) and verify it; reuse a verified copy."""
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    final, part = dest_dir / name, dest_dir / (name + ".part")
    url = url_base(base) + name
    expected = expected_for(name, sha256)
    if not expected["sha256"]:
        print(f"unetexp: warning: no known sha256 for {name}: size checked only", file=sys.stderr)
    if final.is_file():
        _verify(final, name, expected, str(final))
        return final
    for attempt in range(1, ATTEMPTS + 1):
        try:
            if _transfer(url, part, f"downloading {name}"):
                break
            reason = "connection closed early"
        except urllib.error.URLError as exc:  # no connection at all: retrying will not help
            kept = part.stat().st_size if part.exists() else 0
            raise DataError(
                f"cannot download {url}: {exc.reason} (offline? download {name} by "
                f"other means, then `unetexp data prepare --source DIR`"
                + (f"; {kept} bytes kept in {part} to resume)" if kept else ")")
            ) from None
        except (OSError, http.client.HTTPException) as exc:  # reset, timeout, incomplete read
            reason = f"{type(exc).__name__}: {exc}"
        if attempt == ATTEMPTS:
            raise DataError(
                f"{url}: transfer interrupted {ATTEMPTS} times ({reason}); "
                f"{part.stat().st_size if part.exists() else 0} bytes kept in {part}, "
                f"run the same command again to resume"
            )
        print(
            f"unetexp: {name}: {reason}, resuming (attempt {attempt + 1}/{ATTEMPTS})",
            file=sys.stderr,
            flush=True,
        )
        time.sleep(0.2 * attempt)
    _verify(part, name, expected, url)
    part.replace(final)
    return final
