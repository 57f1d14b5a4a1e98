"""The pictures a job run logs besides its config and report (the model is an MLflow model:
`tracking.model`)."""

from __future__ import annotations

from pathlib import Path

LEARNING_CURVES = "learning_curves.png"
PREDICTIONS = "predictions.png"


def write_run_files(splits, result, folder: Path, name: str = "") -> dict[str, Path]:
    """Write the learning curves and the prediction grid (the first 6 test images) into
    `folder`; return them by artifact name."""
    from unetexp.results import plots

    folder = Path(folder)
    val_label = "validation" if splits.separate_val else "validation (= test split)"
    return {
        LEARNING_CURVES: plots.learning_curves(
            result.history,
            folder / LEARNING_CURVES,
            title=f"{name}: learning curves",
            best_epoch=result.best_epoch,
            val_label=val_label,
        ),
        PREDICTIONS: plots.prediction_grid(
            splits.x_test,
            splits.y_test,
            result.probabilities,
            folder / PREDICTIONS,
            title=f"{name}: test predictions",
        ),
    }
