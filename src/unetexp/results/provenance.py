"""Which data a figure comes from. Every job run records its data (data/identity.py); export
carries it into every row, and report and compare print it above any table and refuse to pool
runs of different data. No TensorFlow, no pandas at import time."""

from __future__ import annotations

from unetexp.errors import UnetexpError

COLUMNS = ["data_source", "data_count", "data_sha256"]


def is_synthetic(source: str) -> bool:
    return str(source).startswith("synthetic")


def describe(source: str, count, sha: str) -> str:
    """'pets_real_64.npz (714 images, sha256 295e24fc)' for one data source."""
    kind = "synthetic shapes" if is_synthetic(source) else "real photographs"
    sha_text = f"sha256 {str(sha)[:8]}" if isinstance(sha, str) and sha else "sha256 not recorded"
    try:
        count_text = f"{int(count)} images"
    except (TypeError, ValueError):
        count_text = f"{count} images" if count else "count unknown"
    return f"{source} ({kind}, {count_text}, {sha_text})"


def sources(df) -> list[tuple]:
    """Distinct (source, count, sha256) of a table of runs; [] when it carries none. Runs logged
    before the sha256 was recorded count as the same data as their file's recorded hash."""
    if "data_source" not in df.columns:
        return []
    found: dict[tuple[str, str], object] = {}  # (source, sha256) -> its count
    for row in df.to_dict("records"):
        sha = row.get("data_sha256")
        sha = sha if isinstance(sha, str) else ""
        key = (row["data_source"], sha)
        found.setdefault(key, row.get("data_count"))
    hashed = {source for source, sha in found if sha}
    return [
        (source, count, sha)
        for (source, sha), count in found.items()
        if sha or source not in hashed
    ]


def header(df, label: str = "data") -> list[str]:
    """Lines to print above a table of runs: the data, and a warning for synthetic data."""
    found = sources(df)
    if not found:
        return [
            f"{label}: not recorded in this table (an export from before unetexp recorded its data)"
        ]
    lines = [f"{label}: " + "; ".join(describe(*s) for s in found)]
    if any(is_synthetic(s[0]) for s in found):
        lines.append(
            f"warning: {label} is synthetic (generated shapes, not photographs): "
            f"its figures are not comparable with the study's"
        )
    return lines


def require_one_source(df) -> None:
    """Refuse to pool runs of different data into one figure."""
    found = sources(df)
    if len({(s[0], s[2]) for s in found}) > 1:
        listed = "; ".join(describe(*s) for s in found)
        raise UnetexpError(
            f"these runs come from {len(found)} data sources ({listed}): "
            f"choose one with --data SHA256_PREFIX_OR_PATH"
        )


def select(df, wanted: str | None):
    """Rows whose data sha256 starts with, or whose source contains, `wanted`."""
    if not wanted:
        return df
    keep = df["data_source"].astype(str).str.contains(wanted, regex=False)
    if "data_sha256" in df.columns:  # a table without it is matched on its source alone
        keep = keep | df["data_sha256"].astype(str).str.startswith(wanted)
    if not keep.any():
        raise UnetexpError(
            f"--data {wanted}: no run on such data (data: "
            f"{'; '.join(describe(*s) for s in sources(df))})"
        )
    return df[keep]
