"""Losses (bce, dice, bce_dice) and metrics (pixel accuracy, Dice, IoU) of the study.

Dice is the standard (2*sum(y*p) + eps) / (sum(y) + sum(p) + eps), over the whole batch for
the loss and accumulated over the whole epoch / test set for the metric (spec: "Training
protocol" explains why the notebook's own `dice_coef` is not used as printed).
"""
from __future__ import annotations

import keras
from keras import ops

EPS = 1e-6


def soft_dice(y_true, y_pred, eps: float = EPS):
    y_true = ops.cast(y_true, y_pred.dtype)
    intersection = ops.sum(y_true * y_pred)
    return (2.0 * intersection + eps) / (ops.sum(y_true) + ops.sum(y_pred) + eps)


def dice_loss(y_true, y_pred):
    """1 - soft Dice over the batch."""
    return 1.0 - soft_dice(y_true, y_pred)


def make_loss(name: str, alpha: float = 0.5):
    """The loss function named by `loss.name` (bce_dice = alpha*bce + (1-alpha)*dice)."""
    bce = keras.losses.BinaryCrossentropy(name="bce")
    if name == "bce":
        return bce
    if name == "dice":
        return dice_loss

    def bce_dice(y_true, y_pred):
        return alpha * bce(y_true, y_pred) + (1.0 - alpha) * dice_loss(y_true, y_pred)

    if name == "bce_dice":
        return bce_dice
    raise ValueError(f"unknown loss {name!r}")  # unreachable after config.validate


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
