"""Real photographs in the suite: the 714 Oxford-IIIT Pet pairs of ../shared/data/pets-real
(prepared byte for byte as the shared copy), a real 1-epoch run landing in MLflow with its data
recorded, a final experiment's honest split, and `unetexp predict` on real photographs.
Skipped, with the reason, where ../shared/data is absent (a user's own clone)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import PROJECT, run_cli, search_runs
from PIL import Image

SHARED_DATA = PROJECT.parent / "shared" / "data"
REAL = SHARED_DATA / "pets-real"
REAL_NPZ = SHARED_DATA / "pets_real_64.npz"
pytestmark = pytest.mark.skipif(
    not REAL_NPZ.is_file() or not (REAL / "images").is_dir(),
    reason=f"{SHARED_DATA} has no pets-real/ and pets_real_64.npz "
    f"(real photographs shared beside the project)",
)
SHARED_SHA = "295e24fc8d1caf16836d017e9f75de710d23878d5c8556f0ef7b8cd9f02963bd"  # pets_real_64.npz


def test_prepare_rebuilds_the_shared_real_file(tmp_path):
    out = tmp_path / "pets_real_64.npz"
    result = run_cli(
        "data",
        "prepare",
        "--source",
        str(REAL),
        "--fraction",
        "1",
        "--size",
        "64",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    ours = json.loads(out.with_suffix(".json").read_text())
    shared = json.loads(REAL_NPZ.with_suffix(".json").read_text())
    counts = ours["counts"]
    assert (counts["written"], counts["skipped"], counts["converted"], counts["breeds"]) == (
        714,
        0,
        2,
        32,
    )
    assert (counts["cats"], counts["dogs"]) == (460, 254)
    assert {c["name"] for c in ours["converted"]} == {"Abyssinian_34", "Abyssinian_5"}
    for name, array in shared["output"]["arrays"].items():
        assert ours["output"]["arrays"][name]["sha256"] == array["sha256"], name


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    """`+experiment=unet_simple` for 1 epoch on the 714 real pairs, model saved."""
    tmp = tmp_path_factory.mktemp("real")
    store = f"sqlite:///{tmp / 'store' / 'mlflow.db'}"
    out = run_cli(
        "+experiment=unet_simple",
        "train.epochs=1",
        "data=npz",
        f"data.path={REAL_NPZ}",
        f"tracking.uri={store}",
        cwd=tmp,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return store, search_runs(store).iloc[0], tmp


def test_a_real_run_lands_in_mlflow_with_its_data(real_run):
    _, run, _ = real_run
    assert run["status"] == "FINISHED" and run["metrics.n_params"] == 388_209
    # 714 pairs: 20 % test, then 10 % of train held out for early stopping and the LR schedule
    assert (run["params.data.n_train"], run["params.data.n_val"], run["params.data.n_test"]) == (
        "513",
        "58",
        "143",
    )
    assert run["tags.data_source"] == str(REAL_NPZ) and run["tags.data_count"] == "714"
    assert run["tags.data_sha256"] == SHARED_SHA
    assert (
        0.5 < run["metrics.test_accuracy"] <= 1 and run["metrics.floor_background_accuracy"] > 0.5
    )


def test_export_and_report_say_the_data_is_real(real_run):
    store, _, tmp = real_run
    out = run_cli("export", "--tracking-uri", store, "-o", str(tmp / "runs.csv"), cwd=tmp)
    assert out.returncode == 0, out.stderr
    cmp = run_cli("compare", str(tmp / "runs.csv"), str(tmp / "runs.csv"), cwd=tmp)
    assert cmp.returncode == 0, cmp.stderr
    first = cmp.stdout.splitlines()[2]
    assert first == f"data A: {REAL_NPZ} (real photographs, 714 images, sha256 295e24fc)"
    assert "warning" not in cmp.stdout


def test_predict_on_real_photographs(real_run, tmp_path):
    _, run, _ = real_run
    photos = tmp_path / "photos"
    photos.mkdir()
    names = ["Bengal_1", "american_bulldog_10", "Abyssinian_5"]  # Abyssinian_5: a PNG named .jpg
    for name in names:
        shutil.copy(REAL / "images" / f"{name}.jpg", photos)
    out = run_cli(
        "predict",
        run["run_id"],
        str(photos),
        "--out",
        str(tmp_path / "masks"),
        "--tracking-uri",
        real_run[0],
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    for name in names:
        with (
            Image.open(photos / f"{name}.jpg") as photo,
            Image.open(tmp_path / "masks" / f"{name}_mask.png") as mask,
        ):
            assert mask.size == photo.size
            values = set(np.unique(np.asarray(mask)).tolist())
            assert values <= {0, 255} and values, name
