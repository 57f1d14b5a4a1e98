"""unetexp's Hydra sweeper `hydra/sweeper=decide` (decide_sweeper.py)."""
