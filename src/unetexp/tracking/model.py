"""The trained model, MLflow's way: MLflow's TensorFlow flavour (Keras 3 inside) with a
signature and an input example, so that `mlflow.pyfunc.load_model("runs:/ID/model")`,
`mlflow models serve` and the Model Registry (`models:/NAME/...`) all work."""

from __future__ import annotations

MODEL_PATH = "model"  # artifact path: runs:/RUN_ID/model
REQUIREMENTS = ("mlflow", "tensorflow", "keras", "numpy")


def pinned_requirements() -> list[str]:
    """This environment's versions: MLflow would otherwise infer them by loading the model in
    a subprocess (seconds to minutes of TensorFlow start-up per logged model)."""
    from importlib.metadata import PackageNotFoundError, version

    pins = []
    for package in REQUIREMENTS:
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            pins.append(package)
    return pins


def log_model(model, example, register_as: str | None = None) -> str:
    """Log `model` (one input NHWC float32 in [0, 1], one output: mask probabilities NHW1) to
    the active run under `model`, with `example` (a few images) as its input example;
    registered as a new version of `register_as` when given. Returns the model's URI."""
    import contextlib
    import io

    import mlflow
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Schema, TensorSpec

    _, height, width, channels = model.input_shape
    signature = ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, height, width, channels))]),
        outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, height, width, 1))]),
    )
    with contextlib.redirect_stdout(
        io.StringIO()
    ):  # Keras's progress bar: MLflow tries the example
        info = mlflow.tensorflow.log_model(
            model,
            name=MODEL_PATH,
            signature=signature,
            input_example=np.asarray(example, np.float32),
            registered_model_name=register_as,
            pip_requirements=pinned_requirements(),
        )
    return info.model_uri
