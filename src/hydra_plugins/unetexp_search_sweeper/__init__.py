"""unetexp's Hydra sweeper `hydra/sweeper=search` (search_sweeper.py)."""
