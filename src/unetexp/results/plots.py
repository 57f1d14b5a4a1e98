"""The pictures of a run: learning curves and a grid of test predictions (PNG files).

Matplotlib is imported inside the functions, with the Agg canvas (no display needed), so
that commands which draw nothing never load it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from unetexp.results.imaging import overlay, to_uint8


def _figure(width: float, height: float, layout: str | None = "constrained"):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout=layout)


PANELS = (("loss", "Loss"), ("accuracy", "Pixel accuracy"), ("dice", "Dice"))


def learning_curves(history: dict[str, list[float]], path: str | Path, title: str = "",
                    best_epoch: int | None = None, val_label: str = "validation") -> Path:
    """Loss, pixel accuracy, Dice (train vs validation) and learning rate per epoch.

    `history` uses MLflow's epoch names (`train_loss`, `val_loss`, ..., `lr`; a deep-supervision
    model's `train_loss_total` is drawn dotted beside its full-resolution head's loss)."""
    fig = _figure(13, 3.4)
    axes = fig.subplots(1, 4)
    epochs = np.arange(1, len(history.get("train_loss", [])) + 1)
    for ax, (key, name) in zip(axes, PANELS):
        if f"train_{key}" in history:
            ax.plot(epochs, history[f"train_{key}"], "-", color="tab:blue", label="train")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], "-", color="tab:orange", label=val_label)
        if key == "loss" and "train_loss_total" in history:
            ax.plot(epochs, history["train_loss_total"], ":", color="tab:blue", label="train, all heads")
            ax.plot(epochs, history["val_loss_total"], ":", color="tab:orange",
                    label=f"{val_label}, all heads")
        ax.set_title(name)
    ax = axes[3]
    if "lr" in history:
        ax.plot(epochs, history["lr"], "-", color="tab:green", drawstyle="steps-mid")
        low, high = min(history["lr"]), max(history["lr"])
        if low > 0 and high / low > 10:  # several halvings: a log scale reads better
            ax.set_yscale("log")
        else:
            ax.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
            ax.set_ylim(0, high * 1.1)
    ax.set_title("Learning rate")
    for ax in axes:
        if best_epoch:
            ax.axvline(best_epoch, color="grey", ls="--", lw=1,
                       label=f"best epoch ({best_epoch})" if ax is axes[0] else None)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if len(epochs) and len(epochs) <= 12:
            ax.set_xticks(epochs)
    axes[0].legend(fontsize=8)
    for ax in axes[1:3]:
        if ax.lines:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.savefig(path)
    return Path(path)


def _dice(y: np.ndarray, p: np.ndarray, eps: float = 1e-6) -> float:
    return float((2 * (y * p).sum() + eps) / (y.sum() + p.sum() + eps))


def prediction_grid(images: np.ndarray, masks: np.ndarray, probabilities: np.ndarray,
                    path: str | Path, n: int = 6, threshold: float = 0.5, title: str = "") -> Path:
    """One row per test image: image | true mask | predicted mask (with its Dice) | overlay."""
    n = min(n, len(images))
    fig = _figure(4 * 2.1, n * 2.1 + (0.4 if title else 0))
    axes = np.asarray(fig.subplots(n, 4, squeeze=False))
    for row in range(n):
        truth = np.asarray(masks[row]).reshape(masks.shape[1:3]) > 0.5
        predicted = np.asarray(probabilities[row]).reshape(masks.shape[1:3]) > threshold
        dice = _dice(truth.astype(np.float32), predicted.astype(np.float32))
        panels = [(to_uint8(images[row]), "image", None),
                  (truth, "true mask", "gray"),
                  (predicted, f"predicted (Dice {dice:.2f})", "gray"),
                  (overlay(images[row], predicted), "overlay", None)]
        for ax, (picture, name, cmap) in zip(axes[row], panels):
            scale = {"cmap": cmap, "vmin": 0, "vmax": 1} if cmap else {}
            ax.imshow(picture, interpolation="nearest", **scale)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0 or name.startswith("predicted"):
                ax.set_title(name, fontsize=9)
    if title:
        fig.suptitle(title)
    fig.savefig(path)
    return Path(path)


def _report_figure():
    fig = _figure(9, 3.4, layout=None)  # fixed margins: a constrained layout costs a redraw
    return fig, fig.subplots(1, 2)


def table_figure(spec: dict, path: str | Path) -> Path:
    """One table of a report: accuracy and Dice against the table's factor, mean +- std over
    seeds, the study's single run and a floor baseline for scale.

    `spec` holds plain lists (it may cross to another process): title, xlabel, xticks, and
    per panel title, mean, std, label, study (None or a list, NaN where missing), floor,
    floor_label."""
    fig, axes = _report_figure()
    x = list(range(len(spec["xticks"])))
    for ax, panel in zip(axes, spec["panels"]):
        ax.errorbar(x, panel["mean"], yerr=panel["std"], fmt="o-", capsize=4, label=panel["label"])
        if panel["study"] is not None:
            ax.plot(x, panel["study"], "s--", color="tab:red", label="study (1 run)")
        if panel["floor"] is not None:
            ax.axhline(panel["floor"], color="grey", ls=":", label=panel["floor_label"])
        ax.set_xticks(x, spec["xticks"])
        ax.set_xlabel(spec["xlabel"])
        ax.set_title(panel["title"])
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(spec["title"])
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.16, top=0.84, wspace=0.2)
    fig.savefig(path, dpi=110)
    return Path(path)


def cost_figure(points: list[dict], path: str | Path) -> Path:
    """Accuracy against parameters and against training time, one point per config.

    `points`: label, n_params, time, time_std, accuracy, accuracy_std (plain numbers)."""
    fig, axes = _report_figure()
    accuracy = [p["accuracy"] for p in points]
    accuracy_std = [p["accuracy_std"] for p in points]
    for ax, key, xlabel in ((axes[0], "n_params", "trainable parameters"), (axes[1], "time", "training time (s)")):
        xs = [p[key] for p in points]
        ax.errorbar(xs, accuracy, yerr=accuracy_std, xerr=[p["time_std"] for p in points] if key == "time" else None,
                    fmt="o", capsize=3)
        for p in points:
            ax.annotate(p["label"], (p[key], p["accuracy"]), fontsize=6, xytext=(3, 3), textcoords="offset points")
        if max(xs) > 10 * min(xs):
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("pixel accuracy")
        ax.grid(alpha=0.3, which="both")
    fig.suptitle("Accuracy vs cost (mean +- std over seeds)")
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.88, wspace=0.3)
    fig.savefig(path, dpi=110)
    return Path(path)
