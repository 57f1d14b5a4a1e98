"""Everything of unetexp that touches Keras's private API, in one place.

Why: a sequential multirun (one process, many jobs) must not grow job after job. Stock Keras
on the TensorFlow backend keeps every job's traced train step alive after `clear_session()`
(~10 MB a job; keras-team/keras#20552), through the backend's override of the optimizer's
update step, which Keras keeps "to support tf.distribute".

If Keras moves or renames `keras.src.optimizers.base_optimizer.BaseOptimizer` or its
`_backend_update_step`, the import below fails, the override is left in place and training
still works with the same numbers; only the per-job memory growth comes back, and
`tests/training/test_final_models.py` (no traced graph left per job) fails to say so.

TensorFlow only: JAX and PyTorch have no such override (Keras's generic loop is theirs
already), so on them this module changes nothing and imports no TensorFlow.
"""

from __future__ import annotations

import types


def use_generic_update_step(optimizer) -> bool:
    """On one device, make `optimizer` update through Keras's generic loop
    (`BaseOptimizer._backend_update_step`) instead of the TensorFlow backend's override.
    Returns whether it could (False under a tf.distribute strategy, another Keras layout or
    another backend)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    if tf.distribute.has_strategy():  # several devices: keep Keras's tf.distribute path
        return False
    try:
        from keras.src.optimizers.base_optimizer import BaseOptimizer
    except ImportError:  # another Keras layout: the leak stays, a test says so
        return False
    optimizer._backend_update_step = types.MethodType(BaseOptimizer._backend_update_step, optimizer)
    return True
