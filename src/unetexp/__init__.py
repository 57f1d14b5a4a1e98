"""unetexp: Hydra-configured U-Net ablation studies, tracked in MLflow."""

__version__ = "0.1.0"
