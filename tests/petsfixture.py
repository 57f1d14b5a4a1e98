"""A small Oxford-IIIT Pet look-alike in the official layout, made in the test.

images/NAME.jpg and annotations/trimaps/NAME.png (1 pet, 2 background, 3 border), with the
official set's troubles: a truncated JPEG, a grayscale, a CMYK and an RGBA image (the last one PNG
bytes under a .jpg name, as in the real archive), an image without trimap, a trimap without image,
a stray .mat file and macOS ._ companions.
"""
from __future__ import annotations

import io
import tarfile
import threading
from contextlib import contextmanager
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from PIL import Image

GOOD = {  # name: (width, height)
    "Abyssinian_1": (120, 90), "Abyssinian_2": (90, 120), "Bengal_1": (100, 100),
    "beagle_1": (110, 80), "beagle_2": (80, 110), "pug_1": (96, 72),
}
CONVERTED = {"Birman_1": "L", "Egyptian_Mau_1": "CMYK", "Egyptian_Mau_2": "RGBA"}
CORRUPT, NO_TRIMAP, NO_IMAGE = "Bengal_2", "boxer_1", "pug_99"
WRITTEN = sorted([*GOOD, *CONVERTED])  # the pairs prepare keeps
SKIPPED = {CORRUPT: "image does not decode", NO_TRIMAP: "no trimap"}


def picture(width: int, height: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A warm ellipse (the pet) on a cool noisy background, and its trimap."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    cy, cx = rng.uniform(0.4, 0.6) * height, rng.uniform(0.4, 0.6) * width
    ry, rx = rng.uniform(0.2, 0.35) * height, rng.uniform(0.2, 0.35) * width
    r = np.sqrt(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2)
    trimap = np.where(r <= 0.9, 1, np.where(r <= 1.1, 3, 2)).astype(np.uint8)
    image = np.empty((height, width, 3), np.float32)
    image[:] = rng.uniform(20, 120, 3) * np.array([0.5, 1.0, 1.0])
    image[r <= 1.0] = np.array([220, 140, 40]) * rng.uniform(0.8, 1.0)
    image += rng.normal(0, 8, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), trimap


def _jpeg(array: np.ndarray, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    img = Image.fromarray(array)
    if mode != "RGB":
        img = img.convert(mode)
    if mode == "RGBA":
        img.save(buffer, "PNG")  # the real archive has PNG files named .jpg
    else:
        img.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def make_pets_folder(root: Path, extra: int = 0, extra_size: tuple[int, int] = (40, 32)) -> Path:
    """The official layout under root; `extra` more good pairs (alternating cat and dog breeds)."""
    images, trimaps = root / "images", root / "annotations" / "trimaps"
    images.mkdir(parents=True)
    trimaps.mkdir(parents=True)
    sizes = dict(GOOD)
    sizes.update({name: (64, 48) for name in [*CONVERTED, CORRUPT, NO_TRIMAP, NO_IMAGE]})
    breeds = ["Persian", "keeshond", "Sphynx", "samoyed"]
    sizes.update({f"{breeds[i % 4]}_{100 + i}": extra_size for i in range(extra)})
    for seed, (name, (width, height)) in enumerate(sorted(sizes.items())):
        image, trimap = picture(width, height, seed)
        data = _jpeg(image, CONVERTED.get(name, "RGB"))
        if name == CORRUPT:
            data = data[: len(data) // 3]  # truncated transfer
        if name != NO_IMAGE:
            (images / f"{name}.jpg").write_bytes(data)
        if name != NO_TRIMAP:
            (trimaps / f"{name}.png").write_bytes(_png(trimap))
    (images / "Abyssinian_100.mat").write_bytes(b"MATLAB 5.0")  # strays of the real archive
    (trimaps / "._Abyssinian_1.png").write_bytes(b"\x00\x05\x16\x07 mac resource fork")
    (root / "annotations" / "list.txt").write_text("#Image CLASS-ID SPECIES BREED ID\n")
    return root


def make_pets_archives(folder: Path, dest: Path) -> tuple[Path, Path]:
    """images.tar.gz and annotations.tar.gz of a folder in the official layout (members in
    reverse name order: readers must not rely on the order)."""
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for archive_name, top in (("images.tar.gz", "images"), ("annotations.tar.gz", "annotations")):
        path = dest / archive_name
        with tarfile.open(path, "w:gz") as tar:
            for file in sorted((folder / top).rglob("*"), reverse=True):
                tar.add(file, arcname=str(file.relative_to(folder)), recursive=False)
        out.append(path)
    return out[0], out[1]


class ArchiveHandler(BaseHTTPRequestHandler):
    """Serves files from a dict, honours Range, and cuts chosen transfers half-way."""

    def __init__(self, state, *args, **kwargs):
        self.state = state
        super().__init__(*args, **kwargs)

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        name = self.path.lstrip("/")
        self.state["requests"].append((name, self.headers.get("Range")))
        if name not in self.state["files"]:
            self.send_error(404, "Not Found")
            return
        data = self.state["files"][name]
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.state["cut"].get(name, 0) > 0:  # announce it all, send half, hang up
            self.state["cut"][name] -= 1
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@contextmanager
def serve_files(files: dict[str, bytes]):
    """An HTTP server on 127.0.0.1 serving `files`; yields its state: url, requests, cut."""
    state = {"files": files, "requests": [], "cut": {}}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(ArchiveHandler, state))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{httpd.server_address[1]}/"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
