"""DataFrames as Markdown tables (pandas' own to_markdown needs tabulate)."""

from __future__ import annotations

import math

import pandas as pd


def cell(value, digits: int = 4) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if math.isinf(value):  # e.g. seeds needed beyond any count
            return "inf" if value > 0 else "-inf"
        if value == int(value):
            return str(int(value))
        return f"{value:.1f}" if abs(value) >= 1e3 else f"{value:.{digits}f}"
    return str(value)


def markdown_table(df: pd.DataFrame, digits: int = 4) -> str:
    header = "| " + " | ".join(str(c) for c in df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = [
        "| " + " | ".join(cell(v, digits) for v in row) + " |" for row in df.itertuples(index=False)
    ]
    return "\n".join([header, rule, *body])
