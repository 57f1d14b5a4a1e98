"""The seeded train / validation / test split (stratified by breed on request)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unetexp.data.load import Dataset
from unetexp.errors import DataError, one_line


@dataclass
class Splits:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    separate_val: bool  # False: validation IS the test split, as in the study

    def sizes(self) -> dict[str, int]:
        return {"n_train": len(self.x_train), "n_val": len(self.x_val), "n_test": len(self.x_test)}


def split(
    dataset: Dataset,
    test_fraction: float,
    val_fraction: float,
    seed: int,
    stratify: str | None = None,
) -> Splits:
    """Seeded train/test split; validation is the test split unless val_fraction > 0.

    stratify="breed" keeps each breed's share the same in every split (needs `dataset.breed`)."""
    labels = None
    if stratify == "breed":
        if dataset.breed is None:
            raise DataError(
                f"{dataset.source}: data.stratify=breed needs a `breed` array in the "
                f"data file (files from `unetexp data prepare` have one)"
            )
        labels = dataset.breed
    index = np.arange(len(dataset.images))
    train, test = _split_index(index, test_fraction, seed, labels, dataset.source)
    x, y = dataset.images, dataset.masks
    x_test, y_test = x[test], y[test]
    if val_fraction <= 0:
        return Splits(x[train], y[train], x_test, y_test, x_test, y_test, separate_val=False)
    train, val = _split_index(
        train, val_fraction, seed, None if labels is None else labels[train], dataset.source
    )
    return Splits(x[train], y[train], x[val], y[val], x_test, y_test, separate_val=True)


def _split_index(index: np.ndarray, fraction: float, seed: int, labels, source: str):
    from sklearn.model_selection import train_test_split

    try:
        return train_test_split(index, test_size=fraction, random_state=seed, stratify=labels)
    except ValueError as exc:
        if labels is None:
            raise
        counts = dict(zip(*np.unique(labels, return_counts=True), strict=False))
        rare = min(counts, key=counts.__getitem__)
        raise DataError(
            f"{source}: data.stratify=breed cannot split {len(index)} images of "
            f"{len(counts)} breeds (smallest: {rare}, {counts[rare]} images): "
            f"{one_line(exc)}"
        ) from None
