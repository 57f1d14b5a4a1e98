"""The trained model, MLflow's way: MLflow's Keras 3 flavour (`mlflow.keras`: a `.keras` file,
which loads under any Keras backend) with a signature and an input example, so that
`mlflow.pyfunc.load_model("runs:/ID/model")`, `mlflow models serve` and the Model Registry
(`models:/NAME/...`) all work."""

from __future__ import annotations

MODEL_PATH = "model"  # artifact path: runs:/RUN_ID/model
REQUIREMENTS = ("mlflow", "keras", "numpy")  # and the backend the model was trained on


def pinned_requirements() -> list[str]:
    """This environment's versions: MLflow would otherwise infer them by loading the model in
    a subprocess (seconds to minutes of TensorFlow start-up per logged model)."""
    from importlib.metadata import PackageNotFoundError, version

    import keras

    pins = []
    for package in (*REQUIREMENTS, keras.backend.backend()):
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            pins.append(package)
    return pins


class KerasFlavour:
    """`mlflow.keras`, its model folder made first: MLflow 3.17's Keras flavour writes the input
    example before it creates the folder (FileNotFoundError); `Model.log` takes any module-like
    flavour with a `save_model`."""

    __name__ = "mlflow.keras"

    @staticmethod
    def save_model(path: str, **kwargs) -> None:
        import os

        import mlflow.keras

        os.makedirs(path, exist_ok=True)
        mlflow.keras.save_model(path=path, **kwargs)


def log_model(
    model, example, register_as: str | None = None, card: tuple[dict, str] = ({}, "")
) -> str:
    """Log `model` (one input NHWC float32 in [0, 1], one output: mask probabilities NHW1) to
    the active run under `model`, with `example` (a few images) as its input example and the
    tags of `card` (tags, description: model_card.py); registered as a new version of
    `register_as` when given, with those tags and that description. Returns the model's URI."""
    import contextlib
    import io

    import numpy as np
    from mlflow.models import Model, ModelSignature
    from mlflow.types.schema import Schema, TensorSpec

    _, height, width, channels = model.input_shape
    signature = ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, height, width, channels))]),
        outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, height, width, 1))]),
    )
    with contextlib.redirect_stdout(
        io.StringIO()
    ):  # Keras's progress bar: MLflow tries the example
        info = Model.log(
            artifact_path=None,
            name=MODEL_PATH,
            flavor=KerasFlavour,
            model=model,
            signature=signature,
            input_example=np.asarray(example, np.float32),
            registered_model_name=register_as,
            pip_requirements=pinned_requirements(),
            tags=card[0],
        )
    if register_as:
        describe_version(register_as, str(info.registered_model_version), *card)
    return info.model_uri


def describe_version(name: str, version: str, tags: dict, description: str) -> None:
    """The registered version's description and tags, and the registered model's description
    (what each of its versions is: a run of the experiment of that name)."""
    import mlflow

    client = mlflow.MlflowClient()
    client.update_model_version(name, version, description=description)
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    client.update_registered_model(
        name,
        description=f"U-Net segmentation models of the experiment `{name}` (pet masks). Each "
        f"version is one training run; its description and tags give its test scores, data "
        f"and epochs. Version {version}: {tags.get('run_name', '')}, test Dice "
        f"{tags.get('test_dice', '?')}.",
    )
