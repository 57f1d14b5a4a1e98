"""Whether runs were trained as the study's ablation tables were (10 epochs, batch 8, Adam
1e-3, its 738 photographs): `compare` and `report` say so in one line before any delta, so a
2-epoch smoke run never passes for a difference the study's figures could show."""

from __future__ import annotations

from pathlib import Path

STUDY = {"train.epochs": 10, "train.batch_size": 8, "train.lr": 0.001, "train.optimizer": "adam"}
LABELS = {"train.epochs": "epochs", "train.batch_size": "batch", "train.lr": "lr"}
STUDY_IMAGES = 738


def _values(df, column: str, split: bool = True) -> list[str]:
    """The distinct values of a column; an aggregated export joins a config's with commas."""
    if column not in df.columns:
        return []
    cells = [str(value) for value in df[column].dropna()]
    return sorted({v for c in cells for v in (c.split(",") if split else [c]) if v})


def _same(found: str, expected) -> bool:
    try:
        return float(found) == float(expected)
    except ValueError:
        return found == str(expected)


def differences(df) -> list[str]:
    """How the runs of `df` (an export, per run or per config) differ from the study's
    settings: `2 epochs (study: 10)`, ...; [] when they match or the table does not say."""
    out = []
    for key, expected in STUDY.items():
        found = _values(df, key)
        if found and any(not _same(v, expected) for v in found):
            label = LABELS.get(key, key.split(".")[-1])
            out.append(f"{label} {'/'.join(found)} (study: {expected})")
    counts = _values(df, "data_count")
    sources = [
        s if s.startswith("synthetic") else " + ".join(Path(p).name for p in s.split(" + "))
        for s in _values(df, "data_source", split=False)
    ]
    synthetic = any(s.startswith("synthetic") for s in sources)
    if synthetic or (counts and any(not _same(c, STUDY_IMAGES) for c in counts)):
        out.append(
            f"data {', '.join(sources) or 'unknown'} ({'/'.join(counts) or '?'} images; "
            f"study: its {STUDY_IMAGES}-image subset)"
        )
    return out


def settings_note(df, label: str = "these runs") -> str | None:
    """One line for the top of a comparison with the study, or None when nothing differs."""
    found = differences(df)
    if not found:
        return None
    return (
        f"note: {label} differ from the study's settings: {'; '.join(found)}; "
        f"the deltas against the study compare unlike runs"
    )
