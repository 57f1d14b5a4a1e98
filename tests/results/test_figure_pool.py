"""FigurePool: figures drawn in a worker process are the same files as drawn in-process, and
a drawing error reaches the caller."""

from __future__ import annotations

import pytest

from unetexp.results import figure_pool, plots
from unetexp.results.figure_pool import FigurePool

SPEC = {
    "title": "Table 1 - depth",
    "xlabel": "depth",
    "xticks": ["1", "2", "3"],
    "panels": [
        {
            "title": "pixel accuracy",
            "mean": [0.7, 0.8, 0.75],
            "std": [0.01, 0.02, 0.0],
            "label": "unetexp (n=3)",
            "study": [0.74, 0.77, 0.78],
            "floor": 0.6,
            "floor_label": "all background",
        },
        {
            "title": "Dice",
            "mean": [0.5, 0.6, 0.55],
            "std": [0.0, 0.03, 0.01],
            "label": "unetexp (n=3)",
            "study": None,
            "floor": None,
            "floor_label": "all object",
        },
    ],
}


def _no_ink(path):
    raise ValueError(f"no ink for {path}")


def test_worker_and_inline_draw_the_same_png(tmp_path, monkeypatch):
    monkeypatch.setattr(figure_pool, "usable_cores", lambda: 2)
    with FigurePool() as pool:
        assert pool._pool is not None  # a worker process draws
        pool.draw(plots.table_figure, SPEC, tmp_path / "worker.png")
    monkeypatch.setattr(figure_pool, "usable_cores", lambda: 1)
    with FigurePool() as pool:
        assert pool._pool is None  # one core: drawn here
        pool.draw(plots.table_figure, SPEC, tmp_path / "inline.png")
    worker, inline = (tmp_path / "worker.png").read_bytes(), (tmp_path / "inline.png").read_bytes()
    assert worker.startswith(b"\x89PNG") and worker == inline


def test_a_drawing_error_reaches_the_caller(tmp_path, monkeypatch):
    monkeypatch.setattr(figure_pool, "usable_cores", lambda: 2)
    with pytest.raises(ValueError, match="no ink for"):
        with FigurePool() as pool:
            pool.draw(_no_ink, tmp_path / "x.png")
