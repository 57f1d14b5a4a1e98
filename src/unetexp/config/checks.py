"""The building blocks of config/validation.py's checks: each returns a `Check`, (value, whole
config) -> None when the value is fine, else what is allowed."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

Check = Callable[[Any, Any], str | None]


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def integer(low: int, high: int, note: str = "") -> Check:
    """An integer in low..high (high: a bound against absurd sizes, not a taste)."""

    def check(value, cfg):
        if not (is_int(value) and low <= value <= high):
            return f"must be an integer in {low}..{high}{note}"

    return check


def number(
    low: float, high: float | None = None, open_low: bool = False, open_high: bool = True
) -> Check:
    """A finite number between low and high; `open_*` excludes the bound."""
    lower_only: dict[tuple[float | None, bool], str] = {
        (None, True): f"> {low:g}",
        (None, False): f">= {low:g}",
    }
    text = lower_only.get((high, open_low)) or (
        f"in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
    )

    def check(value, cfg):
        ok = (
            is_number(value)
            and (value > low if open_low else value >= low)
            and (high is None or (value < high if open_high else value <= high))
        )
        if not ok:
            return f"must be a finite number {text}" if not is_number(value) else f"must be {text}"

    return check


def choice(choices: tuple[str, ...], nullable: bool = False) -> Check:
    def check(value, cfg):
        if not ((nullable and value is None) or (isinstance(value, str) and value in choices)):
            return f"must be {'null or ' if nullable else ''}one of {', '.join(choices)}"

    return check


def boolean(value, cfg):
    if not isinstance(value, bool):
        return "must be true or false"


def text(nullable: bool, longest: int = 4096) -> Check:
    """A name, path or URI: any characters (spaces, non-ASCII) but control characters."""

    def check(value, cfg):
        if nullable and value is None:
            return None
        if not (
            isinstance(value, str)
            and value.strip()
            and len(value) <= longest
            and value.isprintable()
        ):
            return (
                f"must be {'null or ' if nullable else ''}a non-empty text of at most "
                f"{longest} printable characters"
            )

    return check


def both(*checks: Check) -> Check:
    def check(value, cfg):
        return next((found for c in checks if (found := c(value, cfg))), None)

    return check
