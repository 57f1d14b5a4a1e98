"""`train.backend=jax` end to end on CPU, as CI runs it (`jax[cpu]` in the dev extra): a run
that lands FINISHED in MLflow with its backend and device, its model loaded through pyfunc and
used by `unetexp predict`, and a deep-supervision run."""

from __future__ import annotations

from importlib.util import find_spec

import numpy as np
import pytest
from conftest import run_cli, search_runs
from PIL import Image

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_spec("jax") is None, reason="jax is not installed"),
]
TINY = ["data=synthetic", "data.count=24", "data.size=16", "train.epochs=1"]


@pytest.fixture(scope="module")
def jax_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("jax")
    store = f"sqlite:///{tmp / 'store' / 'mlflow.db'}"
    out = run_cli(
        "train.backend=jax", *TINY, "train.save_model=true", f"tracking.uri={store}", cwd=tmp
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return store, search_runs(store).iloc[0], tmp


def test_a_jax_run_is_finished_with_its_backend_and_device(jax_run):
    _, run, _ = jax_run
    assert run["status"] == "FINISHED"
    assert run["params.train.backend"] == "jax" and run["tags.device"] == "CPU"
    assert run["metrics.n_params"] == 237_457  # table 1's depth 3, as on TensorFlow
    assert 0 <= run["metrics.test_accuracy"] <= 1


def test_its_model_loads_with_pyfunc_and_predicts_masks(jax_run):
    import mlflow

    store, run, _ = jax_run
    mlflow.set_tracking_uri(store)
    model = mlflow.pyfunc.load_model(f"runs:/{run['run_id']}/model")
    assert model.metadata.flavors["keras"]["keras_backend"] == "jax"
    masks = np.asarray(model.predict(np.zeros((2, 16, 16, 3), np.float32)))
    assert masks.shape == (2, 16, 16, 1) and ((0 <= masks) & (masks <= 1)).all()


def test_unetexp_predict_uses_it(jax_run):
    store, run, tmp = jax_run
    Image.fromarray(np.full((20, 30, 3), 200, np.uint8)).save(tmp / "cat.png")
    out = run_cli(
        "predict", run["run_id"], "cat.png", "--out", "masks", "--tracking-uri", store, cwd=tmp
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert Image.open(tmp / "masks" / "cat_mask.png").size == (30, 20)


def test_a_deep_supervision_run_on_jax(tmp_path):
    store = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    out = run_cli(
        "train.backend=jax",
        *TINY,
        "model.depth=2",
        "model.deep_supervision=true",
        f"tracking.uri={store}",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    run = search_runs(store).iloc[0]
    assert run["status"] == "FINISHED" and run["params.train.backend"] == "jax"
    for key in ("test_dice", "test_output2_loss", "test_loss_total"):
        assert run[f"metrics.{key}"] == run[f"metrics.{key}"], key  # logged, not NaN
