"""What a logged and a registered model say about themselves: tags and a description with its
test scores, its data (name and digest), the epochs it ran, the run it came from and the input
it expects, so that the Model Registry's page answers "which model is this" without the run."""

from __future__ import annotations

from unetexp.tracking.datasets import DIGEST_CHARS, dataset_name

INPUT = "float32 NHWC images in [0, 1] (RGB / 255)"
OUTPUT = "float32 NHW1 mask probabilities (pet >= 0.5)"
SCORES = ("test_accuracy", "test_dice", "test_iou")


def model_tags(run_id: str, run_name: str, metrics: dict, identity: dict, shape) -> dict:
    """The model's tags: scores in percent, data, epochs, run, input and output."""
    height, width, channels = shape
    return {
        **{key: f"{metrics[key] * 100:.2f} %" for key in SCORES},
        "data": dataset_name(identity["data_source"]),
        "data_digest": identity["data_sha256"][:DIGEST_CHARS],
        "data_count": identity["data_count"],
        "epochs_run": str(int(metrics["epochs_run"])),
        "best_epoch": str(int(metrics["best_epoch"])),
        "run_id": run_id,
        "run_name": run_name,
        "input": f"{INPUT}, {height}x{width}x{channels}",
        "output": OUTPUT,
    }


def model_description(tags: dict, description: str) -> str:
    """A version's description: the run's own (what the model is), then what it scored on
    which data, how long it trained, and what it takes."""
    return "\n\n".join(
        [
            f"**Run {tags['run_name']}** ({tags['run_id']}). {description}",
            f"Test split: accuracy {tags['test_accuracy']}, Dice {tags['test_dice']}, "
            f"IoU {tags['test_iou']}. Data: {tags['data']} ({tags['data_count']} images, "
            f"sha256 {tags['data_digest']}...). Trained {tags['epochs_run']} epoch(s), "
            f"weights of epoch {tags['best_epoch']}.",
            f"Input: {tags['input']}. Output: {tags['output']}. "
            "`unetexp predict` takes image files of any size.",
        ]
    )
