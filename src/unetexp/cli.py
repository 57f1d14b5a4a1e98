"""The `unetexp` console script: training is the Hydra app (`unetexp [overrides]`)."""
from __future__ import annotations


def main() -> None:
    from unetexp.app import main as train_main

    train_main()
