"""MLflow: the store, one run per job, one parent run per multirun (the Hydra callback)."""
