"""`unetexp predict`: apply a trained model to image files and write masks and overlays.

    unetexp predict MODEL INPUT [--out DIR] [--threshold 0.5] [--tracking-uri URI]

MODEL is an MLflow model URI (`models:/unet_best/1`, `models:/unet_best@champion`,
`models:/unet_best/latest`, `runs:/RUN_ID/model`), the id of a run that logged a model
(`train.save_model=true`, on in the final experiments), or a `.keras` file. INPUT is an image file or a folder
of them (every file in it, not its subfolders; any format Pillow reads: jpg, png, ...; any
size). Each image is resized to the model's input, predicted, and its mask resized back to
the image's own size: OUT/<name>_mask.png (0 background, 255 object) and
OUT/<name>_overlay.png. A file that is not a readable image is reported on stderr, one line,
and skipped; the exit code is 0 when at least one image was processed, 2 when none could be
(or the model or INPUT cannot be used).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unetexp.commands.base import Parser
from unetexp.errors import UnetexpError, exit_with_error, first_line
from unetexp.tracking.model import MODEL_PATH
from unetexp.tracking.store import open_store

RUN_ID = re.compile(r"^[0-9a-f]{32}$")
MODEL_URIS = ("models:/", "runs:/")
LEGACY_ARTIFACT = "model.keras"  # what runs logged before the MLflow model
BATCH = 16


class PredictError(UnetexpError):
    """The model or the input of `unetexp predict` cannot be used."""


@dataclass
class Picture:
    path: Path
    image: np.ndarray  # uint8 (H, W, 3), as displayed (EXIF orientation applied)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = Parser(
        prog="unetexp predict",
        description="Apply a trained U-Net to an image or a folder of images; write "
        "<name>_mask.png and <name>_overlay.png for each.",
        epilog="Files that are not readable images are reported and skipped. Exit code 0 when "
        "at least one image was processed, 2 when none could be.",
    )
    parser.add_argument(
        "model",
        metavar="MODEL",
        help="an MLflow model URI (models:/unet_best/1, models:/unet_best@champion, "
        "models:/unet_best/latest, runs:/RUN_ID/model), the id of a run that "
        "logged a model, or a .keras file",
    )
    parser.add_argument("input", metavar="INPUT", help="an image file or a folder of images")
    parser.add_argument(
        "--out",
        default="predictions",
        help="folder for the masks and overlays (default: ./predictions)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="object probability above which a pixel is object (default 0.5)",
    )
    parser.add_argument(
        "--tracking-uri",
        default=None,
        help="MLflow store of the run or model (default: $MLFLOW_TRACKING_URI, else "
        "the project's mlruns/mlflow.db)",
    )
    return parser.parse_args(argv)


def load_mlflow_model(model_uri: str):
    """An MLflow model (`runs:/ID/model`, `models:/NAME/VERSION`, `@ALIAS`, `/latest`) as Keras:
    MLflow's Keras flavour on the backend of `KERAS_BACKEND`, else the one it was trained on;
    models logged before it (the TensorFlow flavour) with TensorFlow."""
    try:
        from mlflow.models import get_model_info

        flavors = get_model_info(model_uri).flavors
        trained_on = flavors.get("keras", {}).get("keras_backend", "tensorflow")
        from unetexp.training.backend import use_backend

        use_backend(os.environ.get("KERAS_BACKEND", trained_on))
        from unetexp.training import runtime  # noqa: F401  (a quiet TensorFlow import)

        if "keras" in flavors:
            import mlflow.keras

            return mlflow.keras.load_model(model_uri)
        import mlflow.tensorflow

        return mlflow.tensorflow.load_model(model_uri)
    except Exception as exc:  # no such run, model, version or alias; not a Keras model
        raise PredictError(
            f"{model_uri}: cannot load this MLflow model ({first_line(exc)[:300]})"
        ) from None


def run_model(run_id: str, tracking_uri: str | None, folder: Path):
    """The model a run logged: its MLflow model `model`, or the `model.keras` of runs logged
    before unetexp used MLflow models."""
    client, uri = open_store(tracking_uri, f"run {run_id}")
    try:
        client.get_run(run_id)
        names = {a.path for a in client.list_artifacts(run_id)}
    except Exception as exc:  # not found, or a store MLflow cannot read
        raise PredictError(f"run {run_id} not found in {uri} ({first_line(exc)})") from None
    if LEGACY_ARTIFACT in names:
        return load_keras_file(
            Path(client.download_artifacts(run_id, LEGACY_ARTIFACT, str(folder)))
        )
    try:
        return load_mlflow_model(f"runs:/{run_id}/{MODEL_PATH}")
    except PredictError:
        raise PredictError(
            f"run {run_id} logged no model: train with train.save_model=true "
            f"(the final experiments do)"
        ) from None


def load_model(spec: str, tracking_uri: str | None, folder: Path):
    """The trained model SPEC names: a .keras file, an MLflow model URI, or a run id."""
    if Path(spec).is_file():
        return load_keras_file(Path(spec))
    if spec.startswith(MODEL_URIS):
        open_store(tracking_uri, spec)
        return load_mlflow_model(spec)
    if RUN_ID.match(spec):
        return run_model(spec, tracking_uri, folder)
    raise PredictError(
        f"{spec}: no such model file, and not an MLflow run id or model URI "
        f"(models:/NAME/VERSION, models:/NAME@ALIAS, runs:/RUN_ID/model)"
    )


def load_keras_file(path: Path):
    """A saved Keras model, without its training state (TensorFlow loads here)."""
    from unetexp.training.backend import use_backend

    use_backend(os.environ.get("KERAS_BACKEND", "tensorflow"))
    from unetexp.training.fit import keras  # quiet TensorFlow import, registers unetexp's objects

    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise PredictError(f"{path}: cannot load a Keras model ({first[:200]})") from None


def input_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise PredictError(f"{path}: the folder holds no files")
        return files
    raise PredictError(f"{path}: no such file or folder")


def read_image(path: Path) -> np.ndarray:
    """uint8 RGB (H, W, 3); raises ValueError with the reason when it is not a readable image."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened).convert("RGB")
    except UnidentifiedImageError:
        raise ValueError("not an image") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(f"unreadable image ({exc})") from None
    array = np.asarray(image, np.uint8)
    if array.ndim != 3 or min(array.shape[:2]) < 1:
        raise ValueError(f"unusable image of shape {array.shape}")
    return array


def resize(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of uint8 RGB (to the model) or float32 probabilities (back)."""
    from PIL import Image

    if array.ndim == 2:
        return np.asarray(
            Image.fromarray(array.astype(np.float32), mode="F").resize(
                (width, height), Image.Resampling.BILINEAR
            )
        )
    return np.asarray(Image.fromarray(array).resize((width, height), Image.Resampling.BILINEAR))


def output_names(files: list[Path]) -> dict[Path, str]:
    """<stem>, or <stem>_<ext> where two inputs share a stem (cat.jpg and cat.png)."""
    stems = [f.stem for f in files]
    return {
        f: f.stem if stems.count(f.stem) == 1 else f"{f.stem}_{f.suffix.lstrip('.')}" for f in files
    }


def predict_batch(
    model, pictures: list[Picture], threshold: float, out: Path, names: dict[Path, str]
) -> None:
    from PIL import Image

    from unetexp.results.imaging import overlay

    height, width = image_input(model)
    batch = np.stack([resize(p.image, height, width) for p in pictures]).astype(np.float32) / 255.0
    outputs = model.predict(batch, verbose=0)
    probabilities = outputs[0] if isinstance(outputs, (list, tuple)) else outputs  # full head
    for picture, probability in zip(pictures, probabilities, strict=False):
        h, w = picture.image.shape[:2]
        mask = resize(probability[..., 0], h, w) > threshold
        name = names[picture.path]
        mask_path, overlay_path = out / f"{name}_mask.png", out / f"{name}_overlay.png"
        Image.fromarray((mask * 255).astype(np.uint8), mode="L").save(mask_path)
        Image.fromarray(overlay(picture.image, mask)).save(overlay_path)
        print(
            f"{picture.path} -> {mask_path}, {overlay_path} ({w}x{h}, "
            f"object {100 * mask.mean():.1f} %)",
            flush=True,
        )


def image_input(model, name: str = "the model") -> tuple[int, int]:
    """The (height, width) a model takes (64 for a free side), or a PredictError when it does
    not take RGB images or give a one-channel mask per pixel (not a unetexp U-Net)."""
    inputs = model.input_shape
    outputs = model.output_shape
    outputs = outputs[0] if isinstance(outputs, list) else outputs  # deep supervision: full head
    if not (isinstance(inputs, tuple) and len(inputs) == 4 and inputs[-1] == 3):
        raise PredictError(f"{name} takes inputs of shape {inputs}, not RGB images (N, H, W, 3)")
    if not (isinstance(outputs, tuple) and len(outputs) == 4 and outputs[-1] == 1):
        raise PredictError(f"{name} gives outputs of shape {outputs}, not masks (N, H, W, 1)")
    return inputs[1] or 64, inputs[2] or 64


def run(args: argparse.Namespace) -> int:
    if not 0.0 < args.threshold < 1.0:
        raise PredictError(f"--threshold={args.threshold}: must be in (0, 1)")
    source = Path(args.input)
    files = input_files(source)
    names = output_names(files)
    with tempfile.TemporaryDirectory(prefix="unetexp-predict-") as folder:
        model = load_model(args.model, args.tracking_uri, Path(folder))
    image_input(model, args.model)  # before any output folder is made
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PredictError(f"--out {out}: cannot create the folder ({exc.strerror})") from None
    done, skipped, pending = 0, 0, []
    for index, path in enumerate(files):
        try:
            pending.append(Picture(path, read_image(path)))
        except ValueError as reason:
            skipped += 1
            print(f"unetexp: skipped {path}: {reason}", file=sys.stderr, flush=True)
        if pending and (len(pending) == BATCH or index == len(files) - 1):
            try:
                predict_batch(model, pending, args.threshold, out, names)
            except OSError as exc:  # a full disk, a folder that went read-only
                raise PredictError(
                    f"--out {out}: cannot write a mask ({exc.strerror or exc})"
                ) from None
            done, pending = done + len(pending), []
    if not done:
        raise PredictError(f"{source}: no image could be processed ({skipped} file(s) skipped)")
    print(f"{done} image(s) -> {out}" + (f", {skipped} skipped" if skipped else ""), flush=True)
    return 0


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except UnetexpError as exc:
        exit_with_error(exc)
    return 2  # unreachable: exit_with_error exits
