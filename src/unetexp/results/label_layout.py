"""Point labels that neither overlap each other, nor cover a point, nor cross the axes' border.

Why: configs of one sweep often sit on top of each other (the three losses of table 5 have the
same parameter count), so a fixed offset piles their labels up. Each label tries positions
around its point, nearest first, and keeps the first whose box (measured by the renderer) is
free and inside the axes."""

from __future__ import annotations

import math

MARKER_HALF_WIDTH = 4.0  # pixels around a point that no label may cover
RINGS = (5, 10, 16, 24, 34)  # offsets tried, in points
DIRECTIONS = 12


def _offsets():
    for radius in RINGS:
        for step in range(DIRECTIONS):
            angle = math.pi / 4 + 2 * math.pi * step / DIRECTIONS  # up-right first
            yield radius * math.cos(angle), radius * math.sin(angle)


def _alignment(dx: float, dy: float) -> dict:
    """Anchor the text on the side facing its point."""
    horizontal = "left" if dx > 1 else "right" if dx < -1 else "center"
    vertical = "bottom" if dy > 1 else "top" if dy < -1 else "center"
    return {"ha": horizontal, "va": vertical}


def _box(px: float, py: float, dx: float, dy: float, width: float, height: float) -> tuple:
    """The pixel box of a text anchored as _alignment says, `dx, dy` pixels from its point."""
    x, y = px + dx, py + dy
    x0 = x if dx > 1 else x - width if dx < -1 else x - width / 2
    y0 = y if dy > 1 else y - height if dy < -1 else y - height / 2
    return x0, y0, x0 + width, y0 + height


def place_labels(ax, xs, ys, labels, renderer, yerr=None, fontsize: float = 7) -> list:
    """Annotate point i with labels[i], clear of every point and its vertical error bar
    (`yerr`); return the annotations. `ax`'s limits and the figure's layout must be final
    (boxes are in display pixels; each label is measured once)."""
    inside = ax.get_window_extent(renderer)
    pixels_per_point = ax.figure.dpi / 72
    points = ax.transData.transform(list(zip(xs, ys, strict=False)))
    low = ax.transData.transform(
        [(x, y - e) for x, y, e in zip(xs, ys, yerr or [0] * len(xs), strict=False)]
    )[:, 1]
    high = ax.transData.transform(
        [(x, y + e) for x, y, e in zip(xs, ys, yerr or [0] * len(xs), strict=False)]
    )[:, 1]
    taken = [
        (
            px - MARKER_HALF_WIDTH,
            min(py, bottom) - MARKER_HALF_WIDTH,
            px + MARKER_HALF_WIDTH,
            max(py, top) + MARKER_HALF_WIDTH,
        )
        for (px, py), bottom, top in zip(points, low, high, strict=False)
    ]
    placed = []
    for (x, y), (px, py), label in zip(zip(xs, ys, strict=False), points, labels, strict=False):
        probe = ax.annotate(label, (x, y), fontsize=fontsize)
        size = probe.get_window_extent(renderer)
        probe.remove()
        for dx, dy in _offsets():
            box = _box(
                px, py, dx * pixels_per_point, dy * pixels_per_point, size.width, size.height
            )
            fits = (
                inside.x0 <= box[0]
                and box[2] <= inside.x1
                and inside.y0 <= box[1]
                and box[3] <= inside.y1
            )
            if fits and not any(_overlap(box, other) for other in taken):
                taken.append(box)
                placed.append(
                    ax.annotate(
                        label,
                        (x, y),
                        xytext=(dx, dy),
                        textcoords="offset points",
                        fontsize=fontsize,
                        annotation_clip=False,
                        **_alignment(dx, dy),
                    )
                )
                break  # no free place at all: the point stays unlabelled, the legend still names it
    return placed


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
