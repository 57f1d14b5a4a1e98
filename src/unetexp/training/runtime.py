"""The TensorFlow runtime of a job: a quiet import, thread pools, memory between jobs, seeds.

Importing this module imports TensorFlow and Keras; the train path imports it only when a
job trains (commands that do not train never do).
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys


def import_tensorflow_quietly() -> None:
    """TensorFlow's C++ core prints INFO lines (oneDNN, CUDA drivers) while it loads, before
    TF_CPP_MIN_LOG_LEVEL applies: keep the terminal readable by muting stderr for the import.
    Set TF_CPP_MIN_LOG_LEVEL=0 to see everything."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules or os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0":
        import tensorflow  # noqa: F401

        return
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


import_tensorflow_quietly()

import keras  # noqa: E402

log = logging.getLogger(__name__)


def set_threads(intra: int, inter: int, label: str = "") -> bool:
    """TensorFlow's thread pools (`train.intra_op_threads`, `train.inter_op_threads`; 0 = its
    default). They can only be sized before the first op of the process: each job of a parallel
    launcher is a fresh process and gets them; in a sequential multirun the first job's sizes stay,
    and a later job asking for others is told so, not failed. Returns whether they apply."""
    import tensorflow as tf

    threading = tf.config.threading
    wanted = {"intra_op_threads": intra, "inter_op_threads": inter}
    current = {
        "intra_op_threads": threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": threading.get_inter_op_parallelism_threads(),
    }
    if wanted != current:
        try:
            threading.set_intra_op_parallelism_threads(intra)
            threading.set_inter_op_parallelism_threads(inter)
        except RuntimeError:  # "... cannot be modified after initialization"
            log.warning(
                "%strain.intra_op_threads=%d, train.inter_op_threads=%d not applied: "
                "TensorFlow already runs with %d, %d in this process",
                label,
                intra,
                inter,
                current["intra_op_threads"],
                current["inter_op_threads"],
            )
            return False
    if intra or inter:
        log.info(
            "%sTensorFlow threads: %d intra-op, %d inter-op (0: its default)",
            label,
            threading.get_intra_op_parallelism_threads(),
            threading.get_inter_op_parallelism_threads(),
        )
    return True


def release_memory() -> None:
    """Hand glibc's free heap back to the system after `clear_session()` (which collects the
    previous job's garbage), so that a sequential multirun does not grow job after job
    (no-op off glibc)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def seed_everything(seed: int, deterministic: bool) -> None:
    """Fresh Keras state, then one seed for Python, numpy and TensorFlow."""
    keras.backend.clear_session()  # free the previous job's graph in a multirun (gc.collect)
    release_memory()
    keras.utils.set_random_seed(seed)
    if deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
