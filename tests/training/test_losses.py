"""Losses and metrics on tensors whose values are known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from unetexp.training.evaluation import pixel_report, report_metrics
from unetexp.training.losses import Dice, dice_loss, make_loss, make_metrics, soft_dice
from unetexp.training.runtime import import_tensorflow_quietly  # noqa: F401  (quiet TF import first)

Y = np.array([[1, 1, 0, 0]], np.float32).reshape(1, 2, 2, 1)
P = np.array([[0.9, 0.6, 0.2, 0.4]], np.float32).reshape(1, 2, 2, 1)


def bce_by_hand(y, p):
    return float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))


def test_soft_dice_standard_formula():
    # 2 * (0.9 + 0.6) / (2 + 2.1)
    assert float(soft_dice(Y, P)) == pytest.approx(3.0 / 4.1, rel=1e-5)
    assert float(soft_dice(Y, Y)) == pytest.approx(1.0, abs=1e-6)
    assert float(dice_loss(Y, P)) == pytest.approx(1 - 3.0 / 4.1, rel=1e-5)


def test_losses_by_name():
    bce = bce_by_hand(Y, P)
    dice = 1 - 3.0 / 4.1
    assert float(make_loss("bce")(Y, P)) == pytest.approx(bce, rel=1e-4)
    assert float(make_loss("dice")(Y, P)) == pytest.approx(dice, rel=1e-5)
    assert float(make_loss("bce_dice", 0.5)(Y, P)) == pytest.approx(
        0.5 * bce + 0.5 * dice, rel=1e-4
    )
    assert float(make_loss("bce_dice", 0.3)(Y, P)) == pytest.approx(
        0.3 * bce + 0.7 * dice, rel=1e-4
    )


def test_dice_metric_accumulates_over_batches():
    """One Dice of the whole set, not the mean of per-batch Dice."""
    metric = Dice()
    y2 = np.zeros_like(Y)
    p2 = np.full_like(P, 0.5)
    metric.update_state(Y, P)
    metric.update_state(y2, p2)
    expected = 2 * 1.5 / (2 + 2.1 + 2.0)
    assert float(metric.result()) == pytest.approx(expected, rel=1e-5)
    metric.reset_state()
    metric.update_state(Y, Y)
    assert float(metric.result()) == pytest.approx(1.0, abs=1e-6)


def test_accuracy_and_iou_threshold_at_half():
    accuracy, _, iou = make_metrics()
    accuracy.update_state(Y, P)  # predicted 1, 1, 0, 0: all right
    assert float(accuracy.result()) == pytest.approx(1.0)
    p = np.array([0.9, 0.2, 0.7, 0.1], np.float32).reshape(1, 2, 2, 1)  # TP 1, FN 1, FP 1
    accuracy.reset_state()
    accuracy.update_state(Y, p)
    iou.update_state(Y, p)
    assert float(accuracy.result()) == pytest.approx(0.5)
    assert float(iou.result()) == pytest.approx(1 / 3, rel=1e-5)


def test_pixel_report_and_its_metric_names():
    y = np.array([1, 1, 0, 0, 0, 1], np.float32)
    p = np.array([0.9, 0.2, 0.7, 0.1, 0.3, 0.8], np.float32)  # predicted 1 0 1 0 0 1
    report = pixel_report(y, p)
    assert report["Object"]["precision"] == pytest.approx(2 / 3)
    assert report["Object"]["recall"] == pytest.approx(2 / 3)
    assert report["Background"]["support"] == 3 and report["accuracy"] == pytest.approx(4 / 6)
    flat = report_metrics(report)
    assert sorted(flat) == sorted(
        f"test_{c}_{s}" for c in ("background", "object") for s in ("precision", "recall", "f1")
    )
    assert flat["test_object_f1"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pixel_report_is_scikit_learns_classification_report(seed):
    from sklearn.metrics import classification_report

    rng = np.random.default_rng(seed)
    y = (rng.random((5, 8, 8, 1)) > 0.6).astype(np.float32)
    p = rng.random((5, 8, 8, 1)).astype(np.float32)
    if seed == 2:  # a class never predicted: precision 0 (zero_division=0), not a warning
        p[:] = 0.1
    expected = classification_report(
        y.reshape(-1).astype(np.uint8),
        (p.reshape(-1) > 0.5).astype(np.uint8),
        labels=[0, 1],
        target_names=["Background", "Object"],
        output_dict=True,
        zero_division=0,
    )
    report = pixel_report(y, p)
    assert report.pop("support_unit").startswith("pixels")
    assert report.keys() == expected.keys()
    for key, value in expected.items():
        assert report[key] == (
            pytest.approx(value)
            if isinstance(value, float)
            else {k: pytest.approx(v) for k, v in value.items()}
        ), key
