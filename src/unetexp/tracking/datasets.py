"""A job's data as an MLflow dataset input: the UI's Datasets column and filter, and
`mlflow.search_runs`' `inputs`, name it, and two runs on different data differ by its digest."""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

# the first 12 characters of the sha256 (the whole hash is the input's `sha256` tag): enough to
# tell files apart, short enough that the runs table's Dataset column leaves the params in view
DIGEST_CHARS = 12


def dataset_name(source: str) -> str:
    """The data file's stem (`pets_real_64`, bundled or not), both stems for a pair, the folder holding both
    folders of data=folder (`pets` for pets/images + pets/annotations/trimaps, else both
    names), or `synthetic`."""
    if source.startswith("bundled:"):
        return Path(source.partition(":")[2]).stem
    paths = [Path(p) for p in source.split(" + ")]
    if all(p.is_file() for p in paths):
        return "+".join(p.stem for p in paths)
    if all(p.is_dir() for p in paths):
        folders = [p.resolve() for p in paths]
        common = Path(os.path.commonpath(folders))
        if common.name and common not in folders:
            return common.name
        return "+".join(p.name for p in paths)
    return "synthetic"


INPUT_ATTEMPTS = 4
# a dataset row that another job inserted between MLflow's look-up and its insert: SQLite's
# message, PostgreSQL's
DUPLICATE = ("UNIQUE constraint failed: datasets", "duplicate key value violates unique constraint")


def log_dataset(source: str, sha: str, images, masks, sizes: dict[str, int], seed: int) -> None:
    """Log the data to the active run as one input: the file (or the generator) with its
    sha256 (data/identity.py), the images' and masks' shapes, and the split sizes as context."""
    import mlflow
    from mlflow.data.code_dataset_source import CodeDatasetSource

    name = dataset_name(source)
    origin = (  # generated or bundled: the package is the source, the same on every machine
        CodeDatasetSource({"unetexp.data": source})
        if name == "synthetic" or source.startswith("bundled:")
        else " + ".join(str(Path(p).resolve()) for p in source.split(" + "))
    )
    with warnings.catch_warnings():  # MLflow registers its local source twice ("" and file:)
        warnings.filterwarnings("ignore", message="The specified dataset source can be")
        dataset = mlflow.data.from_numpy(  # type: ignore[attr-defined]  # mlflow.data's lazy names
            images, source=origin, targets=masks, name=name, digest=sha[:DIGEST_CHARS]
        )
    context = " ".join(f"{k[2:]}={v}" for k, v in sizes.items())  # train=531 val=59 test=148
    tags = {"sha256": sha, "split_seed": str(seed), **{k: str(v) for k, v in sizes.items()}}
    for attempt in range(INPUT_ATTEMPTS):
        try:
            mlflow.log_input(dataset, context=context, tags=tags)
            return
        except Exception as exc:
            # MLflow's store looks the dataset up, then inserts it: two jobs logging the same
            # data at the same moment (parallel jobs on a server) collide on its unique key,
            # and the loser finds the winner's row when it tries again
            if attempt + 1 == INPUT_ATTEMPTS or not any(m in str(exc) for m in DUPLICATE):
                raise
            time.sleep(0.2 * (attempt + 1))
