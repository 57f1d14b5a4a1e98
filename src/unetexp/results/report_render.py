"""The report's sections as Markdown and as one HTML page that shows anywhere, MLflow's
artifact viewer included: pictures embedded, cells printed as in the Markdown (`yes`, `14`,
`0.0123`), code in <code>, and narrow enough (the viewer is about 900-1,000 px wide) that a
wide table wraps its headers instead of pushing its last columns off screen."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from unetexp.results.markdown import cell, markdown_table

STYLE = (
    "body{font-family:sans-serif;max-width:960px;margin:auto;padding:0 8px}"
    "table{border-collapse:collapse;width:100%}"
    "td,th{border:1px solid #ccc;padding:2px 4px;font-size:12px}th{overflow-wrap:anywhere}"
    "img{max-width:100%}code{background:#f3f3f3;padding:0 2px}"
)


def write(sections, out: Path, title: str) -> list[Path]:
    """report.md (linking the PNGs beside it) and report.html (embedding them); the PNGs
    must be drawn."""
    (out / "report.md").write_text(to_markdown(sections))
    (out / "report.html").write_text(to_html(sections, title, out))
    return [out / "report.md", out / "report.html"]


MARKDOWN: dict[str, Callable[[Any], str]] = {
    "h1": lambda c: f"# {c}",
    "h2": lambda c: f"## {c}",
    "p": str,
    "table": markdown_table,
    "img": lambda c: f"![{c}]({c})",
}


def to_markdown(sections) -> str:
    return "\n\n".join(MARKDOWN[kind](content) for kind, content in sections) + "\n"


def data_uri(png: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")


def prose(text: str) -> str:
    """Escaped text with Markdown's `code` as <code>: no literal backticks on the page."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(str(text)))


def html_table(df) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell(v))}</td>" for v in row) + "</tr>"
        for row in df.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def to_html(sections, title: str, folder: Path) -> str:
    body = []
    for kind, content in sections:
        if kind in ("h1", "h2", "p"):
            body.append(f"<{kind}>{prose(content)}</{kind}>")
        elif kind == "table":
            body.append(html_table(content))
        else:
            body.append(f'<img src="{data_uri(folder / content)}" alt="{html.escape(content)}">')
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
