"""Training throughput (images/s) of every distinct config of tables 1-5, per variant.

    python benchmarks/throughput.py [--variants default,jit,bf16] [--steps 40] [--repeats 2] [--csv throughput.csv]

Variants (each in a fresh process, since they are process-wide settings):
  default  what `python -m unetexp` does by default (train.deterministic=true)
  nondeterministic  without TF op determinism (train.deterministic=false)
  jit      compile with XLA (train.jit_compile=true)
  bf16     Keras mixed precision mixed_bfloat16 (changes the numerics: for CPUs with bf16)
  threads1 one intra-op thread (what a 2-worker joblib launcher gives each job on 2 cores)
Each config trains one warm-up epoch, then a timed epoch of `steps` batches of 8 images of 64x64.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROWS = {  # sweeps/rows.yaml as builder arguments; the loss rows share "up"'s architecture
    "d1": (1, 1, "transpose", 128),
    "d2": (2, 1, "transpose", 128),
    "d3": (3, 1, "transpose", 128),
    "d4": (4, 1, "transpose", 128),
    "d5": (5, 1, "transpose", 128),
    "c2": (3, 2, "transpose", 128),
    "c3": (3, 3, "transpose", 128),
    "up": (3, 2, "upsampling", 128),
    "b64": (3, 2, "upsampling", 64),
    "b256": (3, 2, "upsampling", 256),
}


def measure(variant: str, steps: int) -> None:
    """In this process: images/s of every row under one variant, as JSON lines."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np
    import tensorflow as tf

    from unetexp.training.losses import make_metrics
    from unetexp.training.model import build_unet

    if variant != "nondeterministic":
        tf.config.experimental.enable_op_determinism()
    if variant == "threads1":
        tf.config.threading.set_intra_op_parallelism_threads(1)
    if variant == "bf16":
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((steps * 8, 64, 64, 3), dtype=np.float32)
    y = (rng.random((steps * 8, 64, 64, 1)) > 0.6).astype(np.float32)
    for name, (depth, convs, upsample, bottleneck) in ROWS.items():
        keras.backend.clear_session()
        model = build_unet((64, 64, 3), depth, convs, upsample, 2, bottleneck)
        model.compile(
            optimizer="adam",
            loss="binary_crossentropy",
            metrics=make_metrics(),
            jit_compile=variant == "jit",
        )
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # warm-up: tracing, XLA compilation
        start = time.perf_counter()
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        print(
            json.dumps(
                {
                    "config": name,
                    "variant": variant,
                    "images_per_s": len(x) / (time.perf_counter() - start),
                }
            ),
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="default,nondeterministic,jit,bf16,threads1")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument(
        "--repeats", type=int, default=1, help="runs of each variant, alternating; median kept"
    )
    parser.add_argument("--csv")
    parser.add_argument("--run", help=argparse.SUPPRESS)  # internal: measure one variant here
    args = parser.parse_args()
    if args.run:
        measure(args.run, args.steps)
        return
    import statistics

    from common import print_table

    results: dict[str, dict[str, list[float]]] = {}
    for variant in args.variants.split(",") * args.repeats:
        out = subprocess.run(
            [sys.executable, __file__, "--run", variant, "--steps", str(args.steps)],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            print(
                f"variant {variant} failed: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr
            )
            continue
        for line in out.stdout.splitlines():
            item = json.loads(line)
            results.setdefault(item["config"], {}).setdefault(variant, []).append(
                item["images_per_s"]
            )
    rows = [
        {
            "config": config,
            **{f"{v} img/s": round(statistics.median(s), 1) for v, s in by_variant.items()},
        }
        for config, by_variant in results.items()
    ]
    print_table(rows, args.csv)


if __name__ == "__main__":
    main()
