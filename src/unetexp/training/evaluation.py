"""Per-pixel classification report of a test set (scikit-learn), as the study printed it."""

from __future__ import annotations

import numpy as np

LABELS = ("Background", "Object")


def pixel_report(y_true: np.ndarray, probabilities: np.ndarray, threshold: float = 0.5) -> dict:
    """Precision, recall, F1 and support per class, and overall accuracy, over every pixel."""
    from sklearn.metrics import classification_report

    truth = np.asarray(y_true).reshape(-1).astype(np.uint8)
    predicted = (np.asarray(probabilities).reshape(-1) > threshold).astype(np.uint8)
    report = classification_report(
        truth,
        predicted,
        labels=[0, 1],
        target_names=list(LABELS),
        output_dict=True,
        zero_division=0,
    )
    return {**report, "support_unit": "pixels (support counts test pixels, not images)"}


def report_metrics(report: dict) -> dict[str, float]:
    """Flatten the report into MLflow metric names: test_background_precision, test_object_f1."""
    return {
        f"test_{label.lower()}_{score.replace('-score', '')}": float(report[label][score])
        for label in LABELS
        for score in ("precision", "recall", "f1-score")
    }
