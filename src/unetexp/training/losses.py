"""Losses (bce, dice, bce_dice) and metrics (pixel accuracy, Dice, IoU) of the study.

Dice is the standard (2*sum(y*p) + eps) / (sum(y) + sum(p) + eps), over the whole batch for
the loss and accumulated over the whole epoch / test set for the metric (docs/study.md, "Training
protocol" explains why the notebook's own `dice_coef` is not used as printed).

The losses and the Dice metric are registered Keras objects, so that a saved `model.keras`
loads with its compile state once this module is imported (or with `compile=False` without).
"""

from __future__ import annotations

import keras
from keras import ops

EPS = 1e-6


def soft_dice(y_true, y_pred, eps: float = EPS):
    y_true = ops.cast(y_true, y_pred.dtype)
    intersection = ops.sum(y_true * y_pred)
    return (2.0 * intersection + eps) / (ops.sum(y_true) + ops.sum(y_pred) + eps)


@keras.saving.register_keras_serializable(package="unetexp")
def dice_loss(y_true, y_pred):
    """1 - soft Dice over the batch."""
    return 1.0 - soft_dice(y_true, y_pred)


@keras.saving.register_keras_serializable(package="unetexp")
class BceDice(keras.losses.Loss):
    """alpha * bce + (1 - alpha) * (1 - soft Dice), both over the whole batch."""

    def __init__(self, alpha: float = 0.5, name: str = "bce_dice", **kwargs):
        super().__init__(name=name, **kwargs)
        self.alpha = float(alpha)
        self._bce = keras.losses.BinaryCrossentropy(name="bce")

    def call(self, y_true, y_pred):
        return self.alpha * self._bce(y_true, y_pred) + (1.0 - self.alpha) * dice_loss(
            y_true, y_pred
        )

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


def make_loss(name: str, alpha: float = 0.5):
    """The loss named by `loss.name` (bce_dice = alpha*bce + (1-alpha)*dice)."""
    if name == "bce":
        return keras.losses.BinaryCrossentropy(name="bce")
    if name == "dice":
        return dice_loss
    if name == "bce_dice":
        return BceDice(alpha)
    raise ValueError(f"unknown loss {name!r}")  # unreachable after config.validate


@keras.saving.register_keras_serializable(package="unetexp")
class Dice(keras.metrics.Metric):
    """Soft Dice accumulated over every batch of an epoch: one Dice of the whole set."""

    def __init__(self, name: str = "dice", eps: float = EPS, **kwargs):
        super().__init__(name=name, **kwargs)
        self.eps = eps
        self.intersection = self.add_variable(shape=(), initializer="zeros", name="intersection")
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, self.dtype)
        y_pred = ops.cast(y_pred, self.dtype)
        self.intersection.assign_add(ops.sum(y_true * y_pred))
        self.total.assign_add(ops.sum(y_true) + ops.sum(y_pred))

    def result(self):
        return (2.0 * self.intersection + self.eps) / (self.total + self.eps)

    def reset_state(self):
        self.intersection.assign(0.0)
        self.total.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "eps": self.eps}


def make_metrics() -> list:
    """accuracy (threshold 0.5), dice (soft), iou (object class, threshold 0.5)."""
    return [
        keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.5),
        Dice(name="dice"),
        keras.metrics.BinaryIoU(target_class_ids=[1], threshold=0.5, name="iou"),
    ]
