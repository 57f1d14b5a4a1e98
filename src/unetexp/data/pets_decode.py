"""Decoding the Oxford-IIIT Pet pairs into arrays, in a process pool for more than a few
dozen pairs (each worker decodes a chunk: image to RGB, bilinear resize; trimap nearest, mask)."""

from __future__ import annotations

import io
import signal
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from unetexp.data.progress import Progress
from unetexp.errors import one_line


def decode_pair(image: bytes | str, trimap: bytes | str | None, size: int, mask: str):
    """(image uint8 (S,S,3), mask uint8 (S,S), converted-from mode or None) or a skip reason."""
    import warnings

    from PIL import Image

    if trimap is None:
        return "no trimap"
    with warnings.catch_warnings():  # palette-transparency and EXIF notes: not our concern
        warnings.simplefilter("ignore")
        try:
            data = image if isinstance(image, bytes) else Path(image).read_bytes()
            picture = Image.open(io.BytesIO(data))
            picture.load()
            converted = None if picture.mode == "RGB" else picture.mode
            rgb = picture.convert("RGB") if converted else picture
        except Exception as exc:  # PIL raises many kinds: report, skip, go on
            return f"image does not decode ({type(exc).__name__}: {one_line(exc)})"
        try:
            data = trimap if isinstance(trimap, bytes) else Path(trimap).read_bytes()
            tri = Image.open(io.BytesIO(data))
            tri.load()
        except Exception as exc:
            return f"trimap does not decode ({type(exc).__name__}: {one_line(exc)})"
    if tri.size != rgb.size:
        return f"trimap is {tri.size[0]}x{tri.size[1]} but the image is {rgb.size[0]}x{rgb.size[1]}"
    values = np.asarray(tri)
    if values.ndim == 3:  # an RGB(A) trimap: the labels are in every channel
        values = values[..., 0]
    found = np.flatnonzero(np.bincount(values.ravel().astype(np.int64), minlength=4))
    if not np.isin(found, (1, 2, 3)).all():
        return f"trimap values {found[:6].tolist()} are not 1 (pet), 2 (background), 3 (border)"
    small = np.asarray(rgb.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)
    labels = np.asarray(
        Image.fromarray(values.astype(np.uint8)).resize((size, size), Image.Resampling.NEAREST)
    )
    binary = (labels == 1) if mask == "pet" else np.isin(labels, (1, 3))
    return small, binary.astype(np.uint8), converted


def _ignore_interrupt() -> None:
    """A worker leaves Ctrl-C to the command: a terminal sends SIGINT to the whole process
    group, and a worker's KeyboardInterrupt would print multiprocessing's traceback of it
    beside the command's one-line "interrupted"."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _decode_chunk(items: list, size: int, mask: str) -> list:
    return [(name, decode_pair(image, trimap, size, mask)) for name, image, trimap in items]


def decode_all(items, selected: list[str], size: int, mask: str, workers: int, chunk: int):
    """Decode into arrays preallocated in `selected` order (no second copy of the dataset).

    Returns images (N,S,S,3), masks (N,S,S,1) and NAME -> (True, converted mode or None) or
    (False, skip reason); a pool of `workers` processes does the decoding unless the job is small."""
    where = {name: i for i, name in enumerate(selected)}
    images = np.zeros((len(selected), size, size, 3), np.uint8)
    masks = np.zeros((len(selected), size, size, 1), np.uint8)
    outcome: dict[str, tuple[bool, str | None]] = {}
    progress = Progress(f"decoding {len(selected)} pairs", len(selected))

    def store(name, result):
        if isinstance(result, str):
            outcome[name] = (False, result)
        else:
            images[where[name]], masks[where[name], ..., 0], converted = result
            outcome[name] = (True, converted)
        progress.update()

    if workers <= 1 or len(selected) <= 2 * chunk:
        for name, image, trimap in items:
            store(name, decode_pair(image, trimap, size, mask))
    else:

        def collect(done):
            for future in done:
                for name, result in future.result():
                    store(name, result)

        # spawn, not fork: the caller may be a training process with threads (MLflow, Hydra)
        pool = ProcessPoolExecutor(
            workers, mp_context=get_context("spawn"), initializer=_ignore_interrupt
        )
        try:
            pending, batch = set(), []
            for item in items:
                batch.append(item)
                if len(batch) == chunk:
                    pending.add(pool.submit(_decode_chunk, batch, size, mask))
                    batch = []
                    if len(pending) >= 2 * workers:  # bound the bytes held in memory
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        collect(done)
            if batch:
                pending.add(pool.submit(_decode_chunk, batch, size, mask))
            collect(wait(pending)[0])
        except BaseException:  # Ctrl-C: drop the chunks not started, do not wait for them
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
    progress.close()
    return images, masks, outcome
