"""The baseline of overhead.py and study.py: the study's U-Nets trained by a plain Keras 3
script, as a researcher would write it without unetexp. It imports nothing of unetexp, so
that no import or default of ours can slow both sides alike; `tests/test_benchmarks.py`
checks that its models have the framework's exact parameter counts and its rows the
framework's configs.

    python benchmarks/plain_keras.py DATA.npz --depths 1,2,3,4,5 --epochs 3   # table 1
    python benchmarks/plain_keras.py DATA.npz --rows study --epochs 3         # the study's 16 rows

Per model: Adam 1e-3, batch 8, validation on the test split every epoch (as the study), one
`evaluate` at the end. Prints one JSON line per model (fit and evaluate seconds, parameters,
test accuracy) on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers, ops  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

# the twelve configs of tables 1-5: (depth, convs per level, upsampling, bottleneck, loss)
CONFIGS = {
    "d1": (1, 1, "transpose", 128, "bce"),
    "d2": (2, 1, "transpose", 128, "bce"),
    "d3": (3, 1, "transpose", 128, "bce"),
    "d4": (4, 1, "transpose", 128, "bce"),
    "d5": (5, 1, "transpose", 128, "bce"),
    "c2": (3, 2, "transpose", 128, "bce"),
    "c3": (3, 3, "transpose", 128, "bce"),
    "up": (3, 2, "upsampling", 128, "bce"),
    "b64": (3, 2, "upsampling", 64, "bce"),
    "b256": (3, 2, "upsampling", 256, "bce"),
    "dice": (3, 2, "upsampling", 128, "dice"),
    "bce_dice": (3, 2, "upsampling", 128, "bce_dice"),
}
# tables 1-5 row by row, as the study trained them: 16 trainings of the 12 configs
STUDY_ROWS = "d1 d2 d3 d4 d5  d3 c2 c3  c2 up  b64 up b256  up dice bce_dice".split()


def unet(depth: int, convs: int, upsample: str, bottleneck: int) -> keras.Model:
    """The study's U-Net: level i has bottleneck / 2**(depth - i + 1) filters."""
    inputs = keras.Input((64, 64, 3))
    x, skips = inputs, []
    for level in range(1, depth + 1):
        for _ in range(convs):
            x = layers.Conv2D(bottleneck // 2 ** (depth - level + 1), 3, padding="same",
                              activation="relu")(x)  # fmt: skip
        skips.append(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(bottleneck, 3, padding="same", activation="relu")(x)
    for skip in reversed(skips):
        filters = skip.shape[-1]
        if upsample == "transpose":
            x = layers.Conv2DTranspose(filters, 2, strides=2, padding="same")(x)
        else:
            x = layers.UpSampling2D()(x)
        x = layers.Concatenate()([x, skip])
        for _ in range(convs):
            x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    return keras.Model(inputs, layers.Conv2D(1, 1, activation="sigmoid")(x))


def dice_loss(y_true, y_pred):
    intersection = ops.sum(y_true * y_pred)
    return 1.0 - (2.0 * intersection + 1e-6) / (ops.sum(y_true) + ops.sum(y_pred) + 1e-6)


def bce_dice_loss(y_true, y_pred):
    bce = keras.losses.binary_crossentropy(y_true, y_pred)
    return 0.5 * ops.mean(bce) + 0.5 * dice_loss(y_true, y_pred)


LOSSES = {"bce": "binary_crossentropy", "dice": dice_loss, "bce_dice": bce_dice_loss}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("--depths", default="1,2,3,4,5")
    parser.add_argument("--rows", choices=["study"], help="the study's 16 table rows instead")
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    with np.load(args.data) as archive:
        x = archive["images"].astype("float32") / 255.0
        y = archive["masks"].reshape(len(x), 64, 64, 1).astype("float32")
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0)
    rows = STUDY_ROWS if args.rows else [f"d{d}" for d in args.depths.split(",")]
    for row in rows:
        depth, convs, upsample, bottleneck, loss = CONFIGS[row]
        keras.backend.clear_session()
        keras.utils.set_random_seed(0)
        model = unet(depth, convs, upsample, bottleneck)
        model.compile(keras.optimizers.Adam(1e-3), LOSSES[loss], metrics=["accuracy"])
        start = time.perf_counter()
        model.fit(x_train, y_train, batch_size=8, epochs=args.epochs,
                  validation_data=(x_test, y_test), verbose=0)  # fmt: skip
        fitted = time.perf_counter()
        _, accuracy = model.evaluate(x_test, y_test, batch_size=8, verbose=0)
        print(json.dumps({
            "row": row, "n_params": model.count_params(), "fit_s": fitted - start,
            "evaluate_s": time.perf_counter() - fitted, "test_accuracy": accuracy,
        }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
