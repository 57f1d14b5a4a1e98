"""The report reads anywhere: its figures' layout, measured with matplotlib's own renderer
(labels clear of each other and of the border, legends clear of the points, every line in a
legend, short parameter ticks), and its HTML with the pictures inside."""

from __future__ import annotations

import base64
import itertools
import re

import pandas as pd
import pytest
from PIL import Image

from unetexp.results import plots
from unetexp.results.report_render import to_html

# the twelve configs of the study's tables, with their printed parameter counts, times and
# accuracies: three of them share one parameter count, several sit close together
STUDY_POINTS = [
    {
        "label": label,
        "n_params": float(n),
        "time": t,
        "time_std": 1.0,
        "accuracy": a,
        "accuracy_std": 0.004,
    }
    for label, n, t, a in (
        ("d1 c1 tr b128 bce", 182337, 58.7, 0.7376),
        ("d2 c1 tr b128 bce", 226593, 36.2, 0.7738),
        ("d3 c1 tr b128 bce", 237457, 19.8, 0.7825),
        ("d4 c1 tr b128 bce", 240073, 12.9, 0.7619),
        ("d5 c1 tr b128 bce", 240729, 10.1, 0.7500),
        ("d3 c2 tr b128 bce", 334449, 31.4, 0.7889),
        ("d3 c3 tr b128 bce", 431441, 42.9, 0.7752),
        ("d3 c2 up b128 bce", 339713, 36.1, 0.7906),
        ("d3 c2 up b64 bce", 85185, 18.4, 0.7784),
        ("d3 c2 up b256 bce", 1356801, 94.1, 0.8129),
        ("d3 c2 up b128 dice", 339713, 35.9, 0.7628),
        ("d3 c2 up b128 bce_dice", 339713, 36.3, 0.8028),
    )
]

TABLE_SPEC = {
    "title": "Table 1 - depth",
    "xlabel": "depth",
    "xticks": ["1", "2", "3", "4", "5"],
    "panels": [
        {
            "title": "pixel accuracy",
            "mean": [0.73, 0.77, 0.78, 0.76, 0.75],
            "std": [0.01] * 5,
            "label": "unetexp (n=3)",
            "study": [0.7376, 0.7738, 0.7825, 0.7619, 0.75],
            "floor": 0.62,
            "floor_label": "floor: predict all background",
        },
        {
            "title": "Dice",
            "mean": [0.6, 0.65, 0.66, 0.64, 0.62],
            "std": [0.01] * 5,
            "label": "unetexp (n=3)",
            "study": None,
            "floor": 0.5,
            "floor_label": "floor: predict all object",
        },
    ],
}


def overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def data_points(fig) -> list[tuple[float, float]]:
    """Every vertex of every line of every axes (points, error bars, floors), in display pixels."""
    return [
        tuple(xy)
        for ax in fig.axes
        for line in ax.lines
        for xy in line.get_transform().transform(line.get_xydata())
    ]


@pytest.fixture(scope="module")
def cost():
    fig = plots.cost_figure_drawn(STUDY_POINTS)
    return fig, fig.canvas.get_renderer()


def test_cost_figure_labels_every_point_without_overlap_inside_the_axes(cost):
    fig, renderer = cost
    for ax in fig.axes:
        boxes = [text.get_window_extent(renderer) for text in ax.texts]
        assert len(boxes) == len(STUDY_POINTS)  # every point numbered
        frame = ax.get_window_extent(renderer)
        for box in boxes:
            assert (
                frame.x0 <= box.x0
                and box.x1 <= frame.x1
                and frame.y0 <= box.y0
                and box.y1 <= frame.y1
            )
        for a, b in itertools.combinations(boxes, 2):
            assert not overlap(a, b), (a, b)
        for (px, py), box in itertools.product(
            ax.transData.transform(
                [
                    (p["n_params" if ax is fig.axes[0] else "time"], p["accuracy"])
                    for p in STUDY_POINTS
                ]
            ),
            boxes,
        ):
            assert not box.contains(px, py)  # no number covers a point


def test_cost_figure_legend_names_every_number_and_covers_no_point(cost):
    fig, renderer = cost
    (legend,) = fig.legends
    texts = [t.get_text() for t in legend.get_texts()]
    assert [f"{i}: {p['label']}" for i, p in enumerate(STUDY_POINTS, start=1)] == texts[1:]
    box = legend.get_window_extent(renderer)
    assert not any(box.contains(x, y) for x, y in data_points(fig))
    for ax in fig.axes:
        assert not overlap(box, ax.get_window_extent(renderer))  # under the axes, not on them


def test_parameter_ticks_are_short_and_apart(cost):
    fig, renderer = cost
    labels = [t for t in fig.axes[0].get_xticklabels() if t.get_visible() and t.get_text()]
    frame = fig.axes[0].get_window_extent(renderer)
    shown = [
        t
        for t in labels
        if frame.x0 - 1 <= t.get_window_extent(renderer).x0
        and t.get_window_extent(renderer).x1 <= frame.x1 + 1
    ]
    assert 2 <= len(shown) <= 6 and all(re.fullmatch(r"[\d.]+[kM]", t.get_text()) for t in shown)
    for a, b in itertools.combinations([t.get_window_extent(renderer) for t in shown], 2):
        assert not overlap(a, b)
    assert plots._thousands(339713) == "340k" and plots._thousands(1356801) == "1.36M"


def test_table_figure_puts_every_line_in_one_legend_below_the_points():
    fig = plots.table_figure_drawn(TABLE_SPEC)
    renderer = plots.frozen_renderer(fig)
    (legend,) = fig.legends
    texts = {t.get_text() for t in legend.get_texts()}
    drawn = {
        line.get_label()
        for ax in fig.axes
        for line in ax.lines
        if not line.get_label().startswith("_")
    }
    drawn |= {c.get_label() for ax in fig.axes for c in ax.containers}
    assert drawn == texts  # every line, both floors included
    assert {"floor: predict all background", "floor: predict all object", "study (1 run)"} <= texts
    box = legend.get_window_extent(renderer)
    assert not any(box.contains(x, y) for x, y in data_points(fig))


def test_html_embeds_its_pictures(tmp_path):
    png = tmp_path / "plot.png"
    Image.new("RGB", (12, 8), "red").save(png)
    page = to_html(
        [("h1", "t"), ("table", pd.DataFrame({"a": [1.0]})), ("img", "plot.png")], "t", tmp_path
    )
    sources = re.findall(r'<img src="([^"]*)"', page)
    assert len(sources) == 1 and sources[0].startswith("data:image/png;base64,")
    assert base64.b64decode(sources[0].split(",", 1)[1]) == png.read_bytes()
