"""Per-step and tracing cost of what the framework adds to a bare Keras `fit`, one variant per
fresh process (op determinism is process-wide), on the 714 real photographs:

    for r in 1 2 3; do for v in bare metrics det generic metrics+det+generic; do
      python benchmarks/steps.py $v 3 2; done; done          # variant, depth, timed epochs

Flags, joined with "+": `metrics` Dice and IoU beside accuracy on every batch (the framework's
`make_metrics`), `det` TensorFlow op determinism (`train.deterministic=true`), `generic` the
framework's `prepare_optimizer` (slots built eagerly, Keras's generic update loop), `spe`
`steps_per_execution=$SPE`. Prints one JSON line: the first epoch (tracing included), the
mean of the timed epochs after it, and a weight checksum (equal across variants that must not
change the numbers).
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from common import REAL_DATA  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from unetexp.training import keras_private  # noqa: E402
from unetexp.training.losses import make_loss, make_metrics  # noqa: E402
from unetexp.training.model import build_unet  # noqa: E402


def main() -> None:
    variant, depth, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    flags = set(variant.split("+"))
    with np.load(REAL_DATA) as archive:
        x = archive["images"].astype("float32") / 255.0
        y = archive["masks"].reshape(len(x), *x.shape[1:3], 1).astype("float32")
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.2, random_state=0)
    if "det" in flags:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(0)
    model = build_unet(x.shape[1:], depth=depth)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=make_loss("bce"),
        metrics=make_metrics() if "metrics" in flags else ["accuracy"],
        steps_per_execution=int(os.environ.get("SPE", "1")) if "spe" in flags else 1,
    )
    if "generic" in flags:
        model.optimizer.build(model.trainable_variables)
        keras_private.use_generic_update_step(model.optimizer)
    fit = dict(validation_data=(x_val, y_val), batch_size=8, verbose=0)
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=1, **fit)
    first = time.perf_counter()
    model.fit(x_train, y_train, epochs=epochs, **fit)
    end = time.perf_counter()
    print(
        json.dumps(
            {
                "variant": variant,
                "depth": depth,
                "first_epoch_s": first - start,
                "epoch_s": (end - first) / epochs,
                "weights_sum": float(sum(np.abs(w).sum() for w in model.get_weights())),
            }
        )
    )


if __name__ == "__main__":
    main()
