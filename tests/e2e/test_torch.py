"""`train.backend=torch` end to end where PyTorch is installed (the GPU machine; not in any
extra: its index build pulls several GB of CUDA): a deep-supervision run with its model,
loaded through pyfunc."""

from __future__ import annotations

from importlib.util import find_spec

import numpy as np
import pytest
from conftest import run_cli, search_runs

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        find_spec("torch") is None,
        reason="torch is not installed (its CUDA build is several GB: tested on the GPU machine)",
    ),
]


def test_a_deep_supervision_run_on_torch_logs_a_model_pyfunc_loads(tmp_path):
    import mlflow

    store = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    out = run_cli(
        "train.backend=torch",
        "data=synthetic",
        "data.count=24",
        "data.size=16",
        "train.epochs=1",
        "model.deep_supervision=true",
        "train.save_model=true",
        f"tracking.uri={store}",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    run = search_runs(store).iloc[0]
    assert run["status"] == "FINISHED" and run["params.train.backend"] == "torch"
    assert run["metrics.n_params"] == 237_555  # depth 3 + two 1x1 heads, as on TensorFlow
    model = mlflow.pyfunc.load_model(f"runs:/{run['run_id']}/model")
    assert model.metadata.flavors["keras"]["keras_backend"] == "torch"
    masks = np.asarray(model.predict(np.zeros((2, 16, 16, 3), np.float32)))
    assert masks.shape == (2, 16, 16, 1)
