"""The runtime of a job on its Keras backend: a quiet import, thread pools, memory between
jobs, seeds and determinism.

Importing this module imports Keras on the backend `backend.use_backend` chose (TensorFlow by
default); the train path imports it only when a job trains (commands that do not train never
do).
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from importlib.util import find_spec

from unetexp.training import backend, native_log


def import_tensorflow_quietly() -> None:
    """TensorFlow's C++ core prints INFO lines (oneDNN, CUDA drivers) while it loads, before
    TF_CPP_MIN_LOG_LEVEL applies: keep the terminal readable by muting stderr for the import,
    and by filtering its native lines after it (`native_log`). Set TF_CPP_MIN_LOG_LEVEL=0 to
    see everything."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    native_log.filter_native_logs()
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


# Keras on JAX or PyTorch still imports TensorFlow where it is installed (its data and saving
# utilities look for it): quietly too
if backend.active() == "tensorflow" or find_spec("tensorflow") is not None:
    import_tensorflow_quietly()
logging.getLogger("jax._src.xla_bridge").setLevel(logging.ERROR)  # "no TPU" at every start

import keras  # noqa: E402

log = logging.getLogger(__name__)


def set_threads(intra: int, inter: int, label: str = "") -> bool:
    """The backend's CPU threads: TensorFlow's and PyTorch's pools as asked, JAX's through
    `backend.use_backend` (1 or its default: XLA takes no other count). Returns whether they
    apply."""
    name = backend.active()
    if name == "tensorflow":
        return _set_tensorflow_threads(intra, inter, label)
    if name == "torch":
        import torch

        if intra:
            torch.set_num_threads(intra)
        if inter and torch.get_num_interop_threads() != inter:
            try:
                torch.set_num_interop_threads(inter)
            except RuntimeError:  # only before the first parallel work of the process
                log.warning(
                    "%strain.inter_op_threads=%d not applied: PyTorch already runs with %d",
                    label,
                    inter,
                    torch.get_num_interop_threads(),
                )
                return False
        return True
    if intra > 1 or inter:
        log.warning(
            "%strain.intra_op_threads=%d, train.inter_op_threads=%d not applied: on JAX only "
            "train.intra_op_threads=1 (one thread per op) or 0 (its default) exist",
            label,
            intra,
            inter,
        )
        return False
    return True


def _set_tensorflow_threads(intra: int, inter: int, label: str) -> bool:
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
    """Fresh Keras state, then one seed for Python, numpy and the backend, and its
    deterministic ops: TensorFlow's op determinism, PyTorch's deterministic algorithms
    (JAX's XLA flag is set before it starts, `backend.use_backend`)."""
    keras.backend.clear_session()  # free the previous job's graph in a multirun (gc.collect)
    release_memory()
    keras.utils.set_random_seed(seed)
    name = backend.active()
    if deterministic and name == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    elif name == "torch":
        import torch

        torch.use_deterministic_algorithms(deterministic)
        torch.backends.cudnn.benchmark = not deterministic


def grow_gpu_memory() -> None:
    """TensorFlow takes its GPUs' memory as it needs it instead of all at once, so that
    several jobs (joblib or Ray workers) share one GPU. Before TensorFlow's first op; a no-op
    without GPUs and on other backends (JAX: `backend.use_backend`)."""
    if backend.active() != "tensorflow":
        return
    import tensorflow as tf

    for gpu in backend.tensorflow_gpus():
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised by an earlier job of this process
            pass
