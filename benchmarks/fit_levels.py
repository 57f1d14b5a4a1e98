"""The same `fit`, again and again in one process: how far one training's time moves on this
machine with nothing changed (same model, seed, data; a fresh model each time), with op
determinism or not, and TensorFlow's thread pools as given. Plain Keras with the baseline's
model (`plain_keras.py`); no unetexp.

    python benchmarks/fit_levels.py [--depth 1] [--fits 3] [--epochs 1] [--det]
                                    [--inter N --intra N]

Prints one JSON line: every fit's seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from common import REAL_DATA  # noqa: E402
from plain_keras import unet  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=1)
    parser.add_argument("--fits", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--det", action="store_true", help="TensorFlow op determinism")
    parser.add_argument("--inter", type=int, default=0)
    parser.add_argument("--intra", type=int, default=0)
    args = parser.parse_args()
    if args.det:
        tf.config.experimental.enable_op_determinism()
    tf.config.threading.set_inter_op_parallelism_threads(args.inter)
    tf.config.threading.set_intra_op_parallelism_threads(args.intra)
    with np.load(REAL_DATA) as archive:
        x = archive["images"].astype("float32") / 255.0
        y = archive["masks"].reshape(len(x), 64, 64, 1).astype("float32")
    split = int(len(x) * 0.8)
    seconds = []
    for _ in range(args.fits):
        keras.backend.clear_session()
        keras.utils.set_random_seed(0)
        model = unet(args.depth, 1, "transpose", 128)
        model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy", metrics=["accuracy"])
        start = time.perf_counter()
        model.fit(x[:split], y[:split], batch_size=8, epochs=args.epochs,
                  validation_data=(x[split:], y[split:]), verbose=0)  # fmt: skip
        seconds.append(round(time.perf_counter() - start, 2))
    print(json.dumps({**vars(args), "fit_s": seconds}))


if __name__ == "__main__":
    main()
