"""The hand-written baseline of benchmarks/overhead.py and study.py: the same models, data,
optimizer, batch size and epochs as `python -m unetexp`, with Keras alone (no Hydra, no
MLflow, no per-epoch logging, no classification report, no figures), one model after the other.

    python benchmarks/bare_keras.py DATA.npz --depths 1,2,3,4,5 --epochs 10   # table 1
    python benchmarks/bare_keras.py DATA.npz --rows study --epochs 10          # the study's 16 rows
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402
from common import ROOT  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from unetexp.training.losses import make_loss  # noqa: E402  (the study's losses)
from unetexp.training.model import build_unet  # noqa: E402  (the same model as the framework)

# tables 1-5 row by row, as the study trained them: 16 trainings of 12 distinct configs
STUDY_ROWS = [
    "d1",
    "d2",
    "d3",
    "d4",
    "d5",  # table 1, depth
    "d3",
    "c2",
    "c3",  # table 2, convs 1 2 3
    "c2",
    "up",  # table 3, transpose / upsampling
    "b64",
    "up",
    "b256",  # table 4, bottleneck 64 128 256
    "up",
    "dice",
    "bce_dice",
]  # table 5, bce dice bce_dice


def configs(args) -> list[tuple[str, dict, str]]:
    """(label, build_unet keywords, loss name) per model to train, in order."""
    if args.rows != "study":
        return [(f"d{d}", {"depth": int(d)}, "bce") for d in args.depths.split(",")]
    rows = yaml.safe_load((ROOT / "sweeps" / "rows.yaml").read_text())
    return [(r, dict(rows[r]["model"]), rows[r]["loss"]["name"]) for r in STUDY_ROWS]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("--depths", default="1,2,3,4,5")
    parser.add_argument("--rows", choices=["study"], help="the study's 16 table rows instead")
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    with np.load(args.data) as archive:
        x = archive["images"].astype("float32") / 255.0
        y = archive["masks"].reshape(len(x), *x.shape[1:3], 1).astype("float32")
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0)
    for label, model_keys, loss in configs(args):
        keras.backend.clear_session()
        keras.utils.set_random_seed(0)
        model = build_unet(x.shape[1:], **model_keys)
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3), loss=make_loss(loss), metrics=["accuracy"]
        )
        model.fit(
            x_train,
            y_train,
            validation_data=(x_test, y_test),
            epochs=args.epochs,
            batch_size=8,
            verbose=0,
        )
        _, accuracy = model.evaluate(x_test, y_test, batch_size=8, verbose=0)
        print(f"{label}: test accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
