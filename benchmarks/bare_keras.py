"""The hand-written baseline of benchmarks/overhead.py: the same models, data, optimizer,
batch size and epochs as `python -m unetexp -m model.depth=...`, with Keras alone (no Hydra,
no MLflow, no per-epoch logging, no classification report).

    python benchmarks/bare_keras.py DATA.npz --depths 1,2,3,4,5 --epochs 10
"""
from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from unetexp.training.model import build_unet  # noqa: E402  (the same model as the framework)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("--depths", default="1,2,3,4,5")
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    with np.load(args.data) as archive:
        x = archive["images"].astype("float32") / 255.0
        y = archive["masks"][..., None].astype("float32")
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0)
    for depth in [int(d) for d in args.depths.split(",")]:
        keras.backend.clear_session()
        keras.utils.set_random_seed(0)
        model = build_unet(x.shape[1:], depth=depth)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy",
                      metrics=["accuracy"])
        model.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=args.epochs,
                  batch_size=8, verbose=0)
        loss, accuracy = model.evaluate(x_test, y_test, batch_size=8, verbose=0)
        print(f"depth {depth}: test accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
