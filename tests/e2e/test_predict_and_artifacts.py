"""A final experiment end to end: its MLflow keys, artifacts and registered MLflow model
(loaded through pyfunc, served by `mlflow models serve`), then `unetexp predict` with the
model it logged, on good and bad image files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import free_port, heavy_imports, run_cli, run_with_stdout_closed, search_runs
from PIL import Image

from unetexp.commands.base import OUTPUT_CLOSED_EXIT

TINY_FINAL = ["data=synthetic", "data.count=24", "data.size=16", "train.epochs=2"]


@pytest.fixture(scope="module")
def deep_run(tmp_path_factory):
    """`python -m unetexp +experiment=unet_deep` (2 epochs, 16x16 synthetic) into a fresh store."""
    tmp = tmp_path_factory.mktemp("final")
    store = f"sqlite:///{tmp / 'store' / 'mlflow.db'}"
    out = run_cli(
        "+experiment=unet_deep", *TINY_FINAL, f"tracking.uri={store}", cwd=tmp, timeout=1800
    )
    assert out.returncode == 0, out.stderr[-3000:]
    run = search_runs(store).iloc[0]
    return store, run, tmp, out


def test_final_run_logs_best_epoch_lr_and_the_full_head_metrics(deep_run):
    import mlflow

    store, run, _, out = deep_run
    # train.epochs=2 overrides the experiment's 128: the name says so
    assert run["tags.mlflow.runName"] == "s0 unet_deep e2" and run["status"] == "FINISHED"
    assert run["params.data.n_val"] != run["params.data.n_test"]  # a separate validation split
    assert run["metrics.n_params"] == 388_307
    assert run["metrics.epochs_run"] == 2 and 1 <= run["metrics.best_epoch"] <= 2
    for key in ("test_loss", "test_dice", "test_accuracy", "test_loss_total", "test_object_f1"):
        assert run[f"metrics.{key}"] == run[f"metrics.{key}"], key  # present, not NaN
    client = mlflow.MlflowClient(tracking_uri=store)
    for key in (
        "train_loss",
        "val_loss",
        "train_accuracy",
        "val_dice",
        "lr",
        "train_loss_total",
        "val_output2_loss",
        "train_output2_loss",
    ):
        assert [m.step for m in client.get_metric_history(run["run_id"], key)] == [1, 2], key
    assert "done s0 unet_deep e2: 388307 params, 2 epochs (best" in out.stderr + out.stdout
    assert "registered as `unet_deep`" in run["tags.mlflow.note.content"]


def test_final_run_artifacts(deep_run):
    import mlflow

    store, run, tmp, _ = deep_run
    client = mlflow.MlflowClient(tracking_uri=store)
    names = {a.path for a in client.list_artifacts(run["run_id"])}
    assert names == {
        "config.yaml",
        "classification_report.json",
        "learning_curves.png",
        "predictions.png",
    }
    folder = Path(client.download_artifacts(run["run_id"], "", str(tmp / "artifacts")))
    for png in ("learning_curves.png", "predictions.png"):
        with Image.open(folder / png) as picture:
            assert picture.format == "PNG" and picture.width > 600


def test_the_model_is_an_mlflow_model_that_pyfunc_loads_and_the_registry_holds(deep_run):
    """MLflow's own loader, without unetexp's code: the full-resolution head's masks."""
    import mlflow

    store, run, _, _ = deep_run
    mlflow.set_tracking_uri(store)
    (version,) = mlflow.MlflowClient().search_model_versions("name = 'unet_deep'")
    assert version.run_id == run["run_id"] and str(version.version) == "1"
    dice = f"{run['metrics.test_dice'] * 100:.2f} %"
    assert version.tags["test_dice"] == dice and version.tags["epochs_run"] == "2"
    assert version.tags["data"] == "synthetic" and version.tags["run_name"] == "s0 unet_deep e2"
    assert version.tags["input"] == "float32 NHWC images in [0, 1] (RGB / 255), 16x16x3"
    assert version.tags["data_digest"] == run["tags.data_sha256"][:12]
    assert f"Dice {dice}" in version.description and "Trained 2 epoch(s)" in version.description
    registered = mlflow.MlflowClient().get_registered_model("unet_deep")
    assert "experiment `unet_deep`" in registered.description
    (logged,) = mlflow.search_logged_models([run["experiment_id"]], output_format="list")
    assert logged.tags["test_dice"] == dice and logged.tags["run_id"] == run["run_id"]
    for uri in (f"runs:/{run['run_id']}/model", "models:/unet_deep/latest", "models:/unet_deep/1"):
        model = mlflow.pyfunc.load_model(uri)
        assert model.metadata.get_input_schema().inputs[0].shape == (-1, 16, 16, 3)
        batch = np.random.default_rng(0).random((3, 16, 16, 3), dtype=np.float32)
        masks = model.predict(batch)
        assert masks.shape == (3, 16, 16, 1) and 0.0 <= masks.min() <= masks.max() <= 1.0, uri


def test_mlflow_models_serve_serves_the_registered_model(deep_run, tmp_path):
    """`mlflow models serve` on 127.0.0.1 (a free port, at most 10 minutes to come up) answers
    one posted image with its mask."""
    import json
    import signal
    import time
    import urllib.request

    store, _, _, _ = deep_run
    port = free_port()
    # `mlflow models serve` execs `uvicorn` from PATH: the env's bin first, activated or not
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "MLFLOW_TRACKING_URI": store, "PATH": path}
    with open(tmp_path / "serve.log", "w") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlflow",
                "models",
                "serve",
                "-m",
                "models:/unet_deep/latest",
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 600
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "mlflow models serve did not come up in 600 s"
                time.sleep(2)
        image = np.random.default_rng(1).random((1, 16, 16, 3)).round(3).tolist()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=json.dumps({"inputs": image}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=120) as answer:
            masks = np.asarray(json.load(answer)["predictions"])
        assert masks.shape == (1, 16, 16, 1) and 0.0 <= masks.min() <= masks.max() <= 1.0
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def write_images(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)).save(folder / "rgb.png")
    Image.fromarray(rng.integers(0, 256, (24, 50), dtype=np.uint8), mode="L").save(
        folder / "gray.png"
    )
    Image.fromarray(rng.integers(0, 256, (20, 20, 4), dtype=np.uint8), mode="RGBA").save(
        folder / "alpha.png"
    )
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    (folder / "notes.txt").write_text("not an image")


def run_predict(*args: str, cwd: Path):
    return subprocess.run(
        [sys.executable, "-m", "unetexp", "predict", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_predict_with_a_run_id_skips_bad_files(deep_run, tmp_path):
    store, run, _, _ = deep_run
    write_images(tmp_path / "in")
    out = run_predict(
        run["run_id"],
        str(tmp_path / "in"),
        "--out",
        str(tmp_path / "out"),
        "--tracking-uri",
        store,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    skipped = [line for line in out.stderr.splitlines() if line.startswith("unetexp: skipped ")]
    assert len(skipped) == 2 and "Traceback" not in out.stderr
    assert any("corrupt.png" in line for line in skipped) and any(
        "notes.txt" in line for line in skipped
    )
    assert "3 image(s) -> " in out.stdout and "2 skipped" in out.stdout
    for name, size in (("rgb", (30, 40)), ("gray", (50, 24)), ("alpha", (20, 20))):
        with Image.open(tmp_path / "out" / f"{name}_mask.png") as mask:
            assert mask.size == size and mask.mode == "L"  # resized back to the image
            assert set(np.unique(np.asarray(mask))) <= {0, 255}
        with Image.open(tmp_path / "out" / f"{name}_overlay.png") as overlay:
            assert overlay.size == size and overlay.mode == "RGB"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f"{n}_{kind}.png" for n in ("rgb", "gray", "alpha") for kind in ("mask", "overlay")
    )


def keras_file(store: str, run_id: str, folder: Path) -> Path:
    """The .keras file inside the run's MLflow model."""
    import mlflow

    mlflow.set_tracking_uri(store)
    return (
        Path(mlflow.artifacts.download_artifacts(f"runs:/{run_id}/model", dst_path=str(folder)))
        / "data"
        / "model.keras"
    )


def test_predict_with_a_keras_file_on_one_image(deep_run, tmp_path):
    store, run, _, _ = deep_run
    model = keras_file(store, run["run_id"], tmp_path)
    write_images(tmp_path / "in")
    out = run_predict(
        str(model), str(tmp_path / "in" / "rgb.png"), "--threshold", "0.3", cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "predictions" / "rgb_mask.png").is_file()  # default --out
    assert (tmp_path / "predictions" / "rgb_overlay.png").is_file()


def test_predict_into_a_closed_pipe_ends_quietly(deep_run, tmp_path):
    store, run, _, _ = deep_run
    write_images(tmp_path / "in")
    code, stderr = run_with_stdout_closed(
        "predict",
        run["run_id"],
        str(tmp_path / "in" / "rgb.png"),
        "--out",
        str(tmp_path / "out"),
        "--tracking-uri",
        store,
        cwd=tmp_path,
    )
    assert (
        code == OUTPUT_CLOSED_EXIT and "Traceback" not in stderr and "BrokenPipe" not in stderr
    ), stderr
    assert (tmp_path / "out" / "rgb_mask.png").is_file()  # the mask is written before its line


@pytest.mark.parametrize("uri", ["models:/unet_deep/latest", "models:/unet_deep@champion"])
def test_predict_with_a_registered_model(uri, deep_run, tmp_path):
    import mlflow

    store, _, _, _ = deep_run
    mlflow.MlflowClient(tracking_uri=store).set_registered_model_alias("unet_deep", "champion", "1")
    write_images(tmp_path / "in")
    out = run_predict(
        uri,
        str(tmp_path / "in" / "rgb.png"),
        "--out",
        str(tmp_path / "out"),
        "--tracking-uri",
        store,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    with Image.open(tmp_path / "out" / "rgb_mask.png") as mask:
        assert mask.size == (30, 40)


def test_predict_with_a_run_that_logged_model_keras_before_mlflow_models(deep_run, tmp_path):
    import mlflow

    store, run, _, _ = deep_run
    client = mlflow.MlflowClient(tracking_uri=store)
    legacy = client.create_run(run["experiment_id"], run_name="legacy").info.run_id
    client.log_artifact(legacy, str(keras_file(store, run["run_id"], tmp_path)))
    client.set_terminated(legacy)
    write_images(tmp_path / "in")
    out = run_predict(
        legacy,
        str(tmp_path / "in" / "rgb.png"),
        "--out",
        str(tmp_path / "out"),
        "--tracking-uri",
        store,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "out" / "rgb_mask.png").is_file()


def test_predict_fails_in_one_line_when_nothing_can_be_processed(deep_run, tmp_path):
    store, run, _, _ = deep_run
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    out = run_predict(run["run_id"], str(tmp_path / "in"), "--tracking-uri", store, cwd=tmp_path)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert lines[0].startswith("unetexp: skipped ") and "broken.jpg" in lines[0]
    assert lines[-1].startswith("unetexp: error: ") and "no image could be processed" in lines[-1]
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    "model,existing_store,fragment",
    [
        (
            "missing.keras",
            True,
            "missing.keras: no such model file, and not an MLflow run id or model URI",
        ),
        (
            "models:/no_such_model/1",
            True,
            "models:/no_such_model/1: cannot load this MLflow model (",
        ),
        ("0" * 32, True, f"run {'0' * 32} not found in sqlite:///"),
        ("0" * 32, False, f"run {'0' * 32} not found: no MLflow store at sqlite:///"),
    ],
)
def test_predict_bad_model(model, existing_store, fragment, deep_run, tmp_path):
    store = deep_run[0] if existing_store else f"sqlite:///{tmp_path / 'none.db'}"
    write_images(tmp_path / "in")
    out = run_predict(model, str(tmp_path / "in"), "--tracking-uri", store, cwd=tmp_path)
    assert not (tmp_path / "none.db").exists()
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [out.stderr.strip()]
    assert out.stderr.startswith("unetexp: error: ") and fragment in out.stderr


def test_predict_run_without_a_model(deep_run, tmp_path):
    import mlflow

    store, run, _, _ = deep_run
    client = mlflow.MlflowClient(tracking_uri=store)
    bare = client.create_run(run["experiment_id"], run_name="ablation").info.run_id
    client.set_terminated(bare)
    write_images(tmp_path / "in")
    out = run_predict(bare, str(tmp_path / "in"), "--tracking-uri", store, cwd=tmp_path)
    assert out.returncode == 2
    assert f"run {bare} logged no model: train with train.save_model=true" in out.stderr


def test_predict_missing_input(tmp_path):
    out = run_predict("model.keras", str(tmp_path / "nothing"), cwd=tmp_path)
    assert out.returncode == 2 and "nothing: no such file or folder" in out.stderr


@pytest.mark.parametrize("args", [["--help"], ["--cfg", "job", "+experiment=unet_deep"]])
def test_commands_that_do_not_train_never_import_matplotlib_or_tensorflow(args, tmp_path):
    assert heavy_imports(*args, cwd=tmp_path) == []


def test_help_lists_the_experiments(tmp_path):
    out = run_cli("--help", cwd=tmp_path)
    assert "experiment: unet_best, unet_deep, unet_simple" in out.stdout


PETS = Path(os.environ.get("UNETEXP_DATA_DIR", "")) / "oxford_pets_64_red.npz"


@pytest.mark.skipif(
    not PETS.is_file(),
    reason="the study's dataset is not built here "
    "(set UNETEXP_DATA_DIR to a folder holding oxford_pets_64_red.npz)",
)
def test_final_experiment_splits_on_the_real_data(tmp_path, store):
    out = run_cli(
        "+experiment=unet_simple",
        "data=pets",
        "train.epochs=2",
        f"tracking.uri={store}",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    run = search_runs(store).iloc[0]
    assert (run["params.data.n_train"], run["params.data.n_val"], run["params.data.n_test"]) == (
        "531",
        "59",
        "148",
    )
    assert run["metrics.n_params"] == 388_209 and run["metrics.test_accuracy"] > 0.5
