"""Which Keras backend a job's process trains on (`train.backend`), chosen before Keras loads.

Keras reads `KERAS_BACKEND` once, at its first import, and cannot switch afterwards: the
backend is a property of the process. So the variable is set here, with the settings that
the backend's runtime reads at its own start (JAX's XLA flags, its GPU memory), and a process
whose Keras already runs another backend is refused in one line. Imports no Keras.
"""

from __future__ import annotations

import functools
import os
import sys

from unetexp.errors import ConfigError

DEFAULT = "tensorflow"  # the fastest on CPU (docs/backends.md)
# XLA's GPU kernels chosen for reproducibility (train.deterministic), as TF's op determinism
XLA_DETERMINISM = "--xla_gpu_deterministic_ops=true"
# one CPU thread per op (train.intra_op_threads=1): XLA's CPU runtime knows no other count
XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def active() -> str:
    """The backend Keras runs (or will run) in this process."""
    keras = sys.modules.get("keras")
    if keras is not None and hasattr(keras, "backend"):
        return keras.backend.backend()
    return os.environ.get("KERAS_BACKEND", DEFAULT)


def use_backend(name: str, deterministic: bool = True, intra_op_threads: int = 0) -> None:
    """Make `name` the backend of this process's Keras, before its first import. JAX gets
    its deterministic GPU ops, its thread count and no up-front grab of 75 % of the GPU's
    memory (XLA_PYTHON_CLIENT_PREALLOCATE=false: several jobs can share one GPU; a value the
    user set is kept). Raises a one-line `ConfigError` once Keras runs another backend."""
    if "keras" in sys.modules:
        if active() != name:
            raise ConfigError(
                f"train.backend={name}: this process already runs Keras on {active()}, and "
                "Keras cannot switch backends in a process (one backend per sequential "
                "multirun, or a launcher with a process per job: docs/backends.md)"
            )
        return
    os.environ["KERAS_BACKEND"] = name
    if name == "jax":
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        flags = [os.environ.get("XLA_FLAGS", "")]
        if deterministic:
            flags.append(XLA_DETERMINISM)
        if intra_op_threads == 1:
            flags.append(XLA_ONE_THREAD)
        os.environ["XLA_FLAGS"] = " ".join(f for f in flags if f)
    elif name == "torch" and deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS determinism


def device() -> str:
    """What this process's Keras trains on: `CPU`, or the first GPU's name (`NVIDIA H200`)."""
    name = active()
    if name == "jax":
        import jax

        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        return getattr(gpus[0], "device_kind", "GPU") if gpus else "CPU"
    if name == "torch":
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    import tensorflow as tf

    gpus = tensorflow_gpus()
    if not gpus:
        return "CPU"
    details = tf.config.experimental.get_device_details(gpus[0])
    return str(details.get("device_name", "GPU"))


@functools.cache
def tensorflow_gpus() -> list:
    """TensorFlow's GPUs, looked up once (the look-up initialises CUDA, where there is a driver)."""
    import tensorflow as tf

    return tf.config.list_physical_devices("GPU")
