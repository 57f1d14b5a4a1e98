"""The pictures of a run: learning curves and a grid of test predictions (PNG files).

Matplotlib is imported inside the functions, with the Agg canvas (no display needed), so
that commands which draw nothing never load it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import numpy as np

from unetexp.results.imaging import overlay, to_uint8


def _figure(width: float, height: float, layout: Literal["constrained"] | None = "constrained"):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout=layout)


PANELS = (("loss", "Loss"), ("accuracy", "Pixel accuracy"), ("dice", "Dice"))


def learning_curves(
    history: dict[str, list[float]],
    path: str | Path,
    title: str = "",
    best_epoch: int | None = None,
    val_label: str = "validation",
) -> Path:
    """Loss, pixel accuracy, Dice (train vs validation) and learning rate per epoch.

    `history` uses MLflow's epoch names (`train_loss`, `val_loss`, ..., `lr`; a deep-supervision
    model's `train_loss_total` is drawn dotted beside its full-resolution head's loss)."""
    fig = _figure(13, 3.4, layout=None)  # fixed margins: a constrained layout cost ~1 s a job
    fig.subplots_adjust(
        left=0.045, right=0.99, bottom=0.25, top=0.82 if title else 0.9, wspace=0.28
    )
    axes = fig.subplots(1, 4)
    epochs = np.arange(1, len(history.get("train_loss", [])) + 1)
    for ax, (key, name) in zip(axes, PANELS, strict=False):
        if f"train_{key}" in history:
            ax.plot(epochs, history[f"train_{key}"], "-", color="tab:blue", label="train")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], "-", color="tab:orange", label=val_label)
        if key == "loss" and "train_loss_total" in history:
            ax.plot(
                epochs, history["train_loss_total"], ":", color="tab:blue", label="train, all heads"
            )
            ax.plot(
                epochs,
                history["val_loss_total"],
                ":",
                color="tab:orange",
                label=f"{val_label}, all heads",
            )
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
            ax.axvline(
                best_epoch,
                color="grey",
                ls="--",
                lw=1,
                label=f"best epoch ({best_epoch})" if ax is axes[0] else None,
            )
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if len(epochs) and len(epochs) <= 12:
            ax.set_xticks(epochs)
    # one legend under the panels: inside them it sat on the validation curve
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncols=5, fontsize=8)
    if title:
        fig.suptitle(title)
    fig.savefig(path)
    return Path(path)


def _dice(y: np.ndarray, p: np.ndarray, eps: float = 1e-6) -> float:
    return float((2 * (y * p).sum() + eps) / (y.sum() + p.sum() + eps))


PANEL_NAMES = ("image", "true mask", "predicted", "prediction on image")


def prediction_grid(
    images: np.ndarray,
    masks: np.ndarray,
    probabilities: np.ndarray,
    path: str | Path,
    n: int = 6,
    threshold: float = 0.5,
    title: str = "",
) -> Path:
    """One row per test image: image | true mask | predicted mask (with its Dice) | overlay.

    Drawn at its final pixel size: Matplotlib renders only the titles, and the tiles, scaled
    up by a whole factor in numpy (crisp pixels), are pasted into its canvas. Matplotlib's own
    image path resamples in float64 RGBA at the output size, which raised a job's peak memory
    by ~100 MiB (benchmarks/README.md)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    n = min(n, len(images))
    h, w = masks.shape[1:3]
    scale = max(1, 192 // w)  # 64x64 tiles shown at 192 px
    th, tw, gap, band = h * scale, w * scale, 8, 22  # tile, gap and title band, in pixels
    top = 34 if title else 0
    width, height = 4 * tw + 3 * gap, top + n * (band + th)
    fig = _figure(width / 100, height / 100, layout=None)
    tiles = []
    for row in range(n):
        truth = np.asarray(masks[row]).reshape(h, w) > 0.5
        predicted = np.asarray(probabilities[row]).reshape(h, w) > threshold
        dice = _dice(truth.astype(np.float32), predicted.astype(np.float32))
        gray = [
            np.repeat((m * 255).astype(np.uint8)[..., None], 3, axis=2) for m in (truth, predicted)
        ]
        tiles.append([to_uint8(images[row]), *gray, overlay(images[row], predicted)])
        for col, name in enumerate(PANEL_NAMES):
            if row and col != 2:
                continue
            text = f"predicted (Dice {dice:.2f})" if col == 2 else name
            x, y = col * (tw + gap) + tw / 2, top + row * (band + th) + band - 5
            fig.text(x / width, 1 - y / height, text, ha="center", va="bottom", fontsize=9)
    if title:
        fig.suptitle(title, y=1 - 6 / height, va="top")
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    sheet = np.array(canvas.buffer_rgba())[..., :3]
    for row, row_tiles in enumerate(tiles):
        y = top + row * (band + th) + band
        for col, tile in enumerate(row_tiles):
            x = col * (tw + gap)
            sheet[y : y + th, x : x + tw] = np.repeat(np.repeat(tile, scale, 0), scale, 1)
    Image.fromarray(sheet).save(path)
    return Path(path)


def _report_figure(height: float = 3.4):
    fig = _figure(9, height)
    return fig, fig.subplots(1, 2)


def frozen_renderer(fig):
    """Lay the figure out once and keep that layout (labels placed in pixels stay where they
    were put); the renderer that measures text boxes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    fig.draw_without_rendering()
    fig.set_layout_engine("none")
    return canvas.get_renderer()


def legend_below(fig, handles, labels, columns: int) -> None:
    """One legend for the whole figure, under the axes: it covers no point."""
    fig.legend(
        handles, labels, loc="outside lower center", ncols=columns, fontsize=7, frameon=False
    )


def table_figure_drawn(spec: dict):
    """One table of a report: accuracy and Dice against the table's factor, mean +- std over
    seeds, the study's single run and a floor baseline for scale (the Figure).

    `spec` holds plain lists (it may cross to another process): title, xlabel, xticks, and
    per panel title, mean, std, label, study (None or a list, NaN where missing), floor,
    floor_label."""
    fig, axes = _report_figure()
    x = list(range(len(spec["xticks"])))
    for ax, panel in zip(axes, spec["panels"], strict=False):
        ax.errorbar(x, panel["mean"], yerr=panel["std"], fmt="o-", capsize=4, label=panel["label"])
        if panel["study"] is not None:
            ax.plot(x, panel["study"], "s--", color="tab:red", label="study (1 run)")
        if panel["floor"] is not None:
            ax.axhline(panel["floor"], color="grey", ls=":", label=panel["floor_label"])
        ax.set_xticks(x, spec["xticks"])
        ax.set_xlabel(spec["xlabel"])
        ax.set_title(panel["title"])
        ax.grid(alpha=0.3)
    labelled: dict[str, Any] = {}
    for ax in axes:  # every line of both panels, each label once
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=False):
            labelled.setdefault(label, handle)
    legend_below(fig, list(labelled.values()), list(labelled), columns=2)
    fig.suptitle(spec["title"])
    return fig


def table_figure(spec: dict, path: str | Path) -> Path:
    """table_figure_drawn as a PNG file."""
    table_figure_drawn(spec).savefig(path, dpi=110)
    return Path(path)


def _thousands(value: float, _position=None) -> str:
    """Parameter counts as 240k, 1.4M: short tick labels that do not run together."""
    return (
        f"{value / 1e6:.3g}M"
        if abs(value) >= 1e6
        else f"{value / 1e3:.3g}k"
        if abs(value) >= 1e3
        else f"{value:.3g}"
    )


def _few_ticks(axis, values: list[float], formatter) -> None:
    """A log axis (with 1-2-5 ticks) when the values span more than ten times, else a linear
    one; at most five labelled ticks either way, none on the minor ticks."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    if min(values) > 0 and max(values) > 10 * min(values):
        axis.axes.set_xscale("log")
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=6))
    else:
        axis.set_major_locator(MaxNLocator(nbins=4))
    axis.set_major_formatter(FuncFormatter(formatter))
    axis.set_minor_formatter(NullFormatter())


def cost_figure_drawn(points: list[dict]):
    """Accuracy against parameters and against training time, one numbered point per config;
    the legend under the axes names the numbers (the Figure).

    `points`: label, n_params, time, time_std, accuracy, accuracy_std (plain numbers)."""
    from matplotlib.patches import Rectangle

    from unetexp.results.label_layout import place_labels

    columns = 3
    fig, axes = _report_figure(3.4 + 0.17 * math.ceil((len(points) + 1) / columns))
    accuracy = [p["accuracy"] for p in points]
    numbers = [str(i) for i in range(1, len(points) + 1)]
    panels = (
        (axes[0], "n_params", "trainable parameters", _thousands),
        (axes[1], "time", "training time (s)", lambda v, _p=None: f"{v:g}"),
    )
    for ax, key, xlabel, formatter in panels:
        xs = [p[key] for p in points]
        bars = ax.errorbar(
            xs,
            accuracy,
            yerr=[p["accuracy_std"] for p in points],
            xerr=[p["time_std"] for p in points] if key == "time" else None,
            fmt="o",
            capsize=3,
        )
        _few_ticks(ax.xaxis, xs, formatter)
        ax.margins(x=0.12, y=0.2)  # room for the numbers inside the border
        ax.set_xlabel(xlabel)
        ax.set_ylabel("pixel accuracy (%)")
        ax.grid(alpha=0.3, which="major")
    blank = Rectangle((0, 0), 0, 0, visible=False)
    legend_below(
        fig,
        [bars] + [blank] * len(points),
        ["mean +- std over seeds"]
        + [f"{n}: {p['label']}" for n, p in zip(numbers, points, strict=False)],
        columns,
    )
    fig.suptitle("Accuracy vs cost")
    renderer = frozen_renderer(fig)
    for ax, key, _, _ in panels:
        place_labels(
            ax,
            [p[key] for p in points],
            accuracy,
            numbers,
            renderer,
            yerr=[p["accuracy_std"] for p in points],
        )
    return fig


def cost_figure(points: list[dict], path: str | Path) -> Path:
    """cost_figure_drawn as a PNG file."""
    cost_figure_drawn(points).savefig(path, dpi=110)
    return Path(path)
