"""Hyper-parameter search (hydra/sweeper=search): the search space, the Optuna study, and the
job's side of a trial (reporting epochs, pruning)."""
