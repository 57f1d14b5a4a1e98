"""A job's data as an MLflow dataset input: the UI's Datasets column and filter, and
`mlflow.search_runs`' `inputs`, name it, and two runs on different data differ by its digest."""
from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

# MLflow's `datasets.digest` column holds 36 characters: the first 36 of the sha256 (the
# whole hash is the input's `sha256` tag)
DIGEST_CHARS = 36


def data_sha256(source: str, images, masks) -> str:
    """sha256 of the data file's bytes (seed_npy's pair in order), else of the generated arrays.
    TODO(lead): use `unetexp.provenance.data_identity` once main's provenance is merged here."""
    files = [Path(p) for p in source.split(" + ")]
    if not all(p.is_file() for p in files):
        return hashlib.sha256(images.tobytes() + masks.tobytes()).hexdigest()
    digest = hashlib.sha256()
    for path in files:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def dataset_name(source: str) -> str:
    """The data file's stem (`pets_real_64`), both stems for a pair, or `synthetic`."""
    files = [Path(p) for p in source.split(" + ")]
    return "+".join(p.stem for p in files) if all(p.is_file() for p in files) else "synthetic"


def log_dataset(source: str, images, masks, sizes: dict[str, int], seed: int) -> None:
    """Log the data to the active run as one input: the file (or the generator) with its
    sha256, the images' and masks' shapes, and the split sizes as its context."""
    import mlflow
    from mlflow.data.code_dataset_source import CodeDatasetSource

    name, sha = dataset_name(source), data_sha256(source, images, masks)
    origin = (CodeDatasetSource({"unetexp.data": source}) if name == "synthetic"
              else " + ".join(str(Path(p).resolve()) for p in source.split(" + ")))
    with warnings.catch_warnings():  # MLflow registers its local source twice ("" and file:)
        warnings.filterwarnings("ignore", message="The specified dataset source can be")
        dataset = mlflow.data.from_numpy(images, source=origin, targets=masks, name=name,
                                         digest=sha[:DIGEST_CHARS])
    context = " ".join(f"{k[2:]}={v}" for k, v in sizes.items())  # train=531 val=59 test=148
    mlflow.log_input(dataset, context=context,
                     tags={"sha256": sha, "split_seed": str(seed), **{k: str(v) for k, v in sizes.items()}})
