"""Per-pixel classification report of a test set, as the study printed it (scikit-learn's)."""

from __future__ import annotations

import numpy as np

LABELS = ("Background", "Object")


def pixel_report(y_true: np.ndarray, probabilities: np.ndarray, threshold: float = 0.5) -> dict:
    """Precision, recall, F1 and support per class, overall accuracy and the two averages,
    over every pixel: scikit-learn's `classification_report(output_dict=True,
    zero_division=0)`, to the last key (a test compares them), from one 2x2 confusion count.
    scikit-learn's own took ~0.13 s and ~60 MiB of a job's peak for a test split's 585k
    pixels (benchmarks/README.md)."""
    truth = np.asarray(y_true).reshape(-1) > 0.5
    predicted = np.asarray(probabilities).reshape(-1) > threshold
    counts = np.bincount(truth * 2 + predicted, minlength=4).reshape(2, 2)  # [truth, predicted]
    support, chosen, correct = counts.sum(1), counts.sum(0), np.diag(counts)
    precision = np.divide(correct, chosen, out=np.zeros(2), where=chosen > 0)
    recall = np.divide(correct, support, out=np.zeros(2), where=support > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros(2), where=both > 0)
    total = int(support.sum())
    scores = {"precision": precision, "recall": recall, "f1-score": f1}
    report: dict = {
        label: {**{k: float(v[i]) for k, v in scores.items()}, "support": int(support[i])}
        for i, label in enumerate(LABELS)
    }
    report["accuracy"] = float(correct.sum() / total) if total else 0.0
    weights = support / total if total else np.zeros(2)
    report["macro avg"] = {
        **{k: float(v.mean()) for k, v in scores.items()},
        "support": total,
    }
    report["weighted avg"] = {
        **{k: float((v * weights).sum()) for k, v in scores.items()},
        "support": total,
    }
    return {**report, "support_unit": "pixels (support counts test pixels, not images)"}


def report_metrics(report: dict) -> dict[str, float]:
    """Flatten the report into MLflow metric names: test_background_precision, test_object_f1."""
    return {
        f"test_{label.lower()}_{score.replace('-score', '')}": float(report[label][score])
        for label in LABELS
        for score in ("precision", "recall", "f1-score")
    }
