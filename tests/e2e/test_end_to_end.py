"""Real trainings (tiny synthetic data, 1 epoch) through Hydra into a real MLflow store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import TINY, run_cli, search_runs

PARAMS = [
    "model.depth",
    "model.convs",
    "model.upsample",
    "model.transpose_kernel",
    "model.bottleneck",
    "model.dropout",
    "model.deep_supervision",
    "loss.name",
    "loss.alpha",
    "data.name",
    "data.size",
    "data.count",
    "train.epochs",
    "train.batch_size",
    "train.lr",
    "tracking.uri",
    "tracking.experiment",
    "seed",
    "data.n_train",
    "data.n_test",
]
METRICS = [
    "n_params",
    "train_time_s",
    "epochs_run",
    "best_epoch",
    "test_loss",
    "test_accuracy",
    "test_dice",
    "test_iou",
    "test_object_f1",
    "test_background_precision",
]
EPOCH_METRICS = [
    "train_loss",
    "train_accuracy",
    "train_dice",
    "val_loss",
    "val_accuracy",
    "val_dice",
    "lr",
    "lr_log10",
]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """`python -m unetexp -m model.depth=1,2 ...` into a fresh store, run from another folder."""
    tmp = tmp_path_factory.mktemp("sweep")
    store = f"sqlite:///{tmp / 'store' / 'mlflow.db'}"
    out = run_cli(
        "-m",
        "model.depth=1,2",
        *TINY,
        "train.epochs=2",
        f"tracking.uri={store}",
        cwd=tmp,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return store, out, search_runs(store)


def test_multirun_makes_one_parent_and_finished_children(sweep):
    store, _, runs = sweep
    parents = runs[runs["tags.role"] == "sweep"]
    children = runs[runs["tags.role"] == "job"]
    assert len(parents) == 1 and len(children) == 2
    parent = parents.iloc[0]
    assert parent["status"] == "FINISHED"
    assert "model.depth=1,2" in parent["tags.sweep_overrides"] and parent["tags.started_at"]
    assert (children["tags.mlflow.parentRunId"] == parent["run_id"]).all()
    assert (children["status"] == "FINISHED").all()
    by_depth = children.set_index("params.model.depth")
    assert by_depth.loc["1", "metrics.n_params"] == 182_337
    assert by_depth.loc["2", "metrics.n_params"] == 226_593


def test_children_carry_every_key(sweep):
    _, _, runs = sweep
    child = runs[runs["tags.role"] == "job"].iloc[0]
    for key in PARAMS:
        assert f"params.{key}" in runs.columns, key
    for key in METRICS:
        assert child[f"metrics.{key}"] == child[f"metrics.{key}"], key  # not NaN
    assert child["metrics.epochs_run"] == 2 and child["metrics.train_time_s"] > 0
    assert 0 <= child["metrics.test_accuracy"] <= 1 and 0 <= child["metrics.test_dice"] <= 1
    assert child["tags.overrides"].startswith("model.depth=")
    # only what this synthetic run used: no key of another data source, nothing None
    logged = {c[len("params.") :] for c in runs.columns if c.startswith("params.")}
    assert not logged & {"data.path", "data.root", "data.images", "data.masks", "data.download"}
    assert not logged & {"tracking.run_name", "tracking.sweep", "force"}
    assert "None" not in {v for c in runs.columns if c.startswith("params.") for v in runs[c]}
    assert len(child["tags.config_hash"]) == 16
    assert child["tags.git_commit"]


def test_per_epoch_history_and_artifacts(sweep):
    import mlflow

    store, _, runs = sweep
    client = mlflow.MlflowClient(tracking_uri=store)
    run_id = runs[runs["tags.role"] == "job"].iloc[0]["run_id"]
    for key in EPOCH_METRICS:
        history = client.get_metric_history(run_id, key)
        assert [m.step for m in history] == [1, 2], key
    lr_log10 = [m.value for m in client.get_metric_history(run_id, "lr_log10")]
    assert lr_log10 == pytest.approx([-3.0, -3.0])  # lr 1e-3: a chart that reads -3, not 0
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    # ablation runs: the pictures, but no model file unless train.save_model=true
    assert artifacts == {
        "config.yaml",
        "classification_report.json",
        "learning_curves.png",
        "predictions.png",
    }
    local = Path(client.download_artifacts(run_id, "classification_report.json"))
    assert '"Object"' in local.read_text()
    mlflow.set_tracking_uri(store)  # runs:/ resolves in the global store, which others may move
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/config.yaml").startswith("model:")
    # artifacts sit beside the SQLite file, not in the working directory
    assert client.get_run(run_id).info.artifact_uri.startswith(Path(store[10:]).parent.as_uri())


def dataset_inputs(store: str, experiment: str = "unetexp") -> dict[str, list]:
    """Every run's dataset inputs as mlflow.search_runs returns them, by run name."""
    import mlflow

    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=[experiment], output_format="list")
    return {run.info.run_name: run.inputs.dataset_inputs for run in runs}


def test_every_job_logs_its_dataset_and_runs_on_other_data_differ(sweep, tmp_path):
    import hashlib

    from conftest import write_npz

    store, _, _ = sweep
    inputs = dataset_inputs(store)
    jobs = {name: found for name, found in inputs.items() if not name.startswith("sweep")}
    assert sorted(jobs) == ["s0 d1 c1 transpose2 b128 bce e2", "s0 d2 c1 transpose2 b128 bce e2"]
    for found in jobs.values():
        (one,) = found
        tags = {t.key: t.value for t in one.tags}
        assert (
            one.dataset.name == "synthetic"
            and tags["mlflow.data.context"] == "train=19 val=5 test=5"
        )
        assert one.dataset.digest == tags["sha256"][:12] and tags["n_train"] == "19"
    path = write_npz(tmp_path / "pets_like.npz", n=12)
    out = run_cli(
        "data=npz",
        f"data.path={path}",
        "train.epochs=1",
        f"tracking.uri={store}",
        "tracking.experiment=other_data",
        cwd=tmp_path,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    (npz,) = dataset_inputs(store, "other_data")["s0 d3 c1 transpose2 b128 bce e1"]
    assert npz.dataset.name == "pets_like" and npz.dataset.source_type == "local"
    assert npz.dataset.digest == hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    assert str(path) in npz.dataset.source
    assert npz.dataset.digest != one.dataset.digest


def test_the_parent_run_summarises_the_sweep(sweep):
    store, _, runs = sweep
    parent = runs[runs["tags.role"] == "sweep"].iloc[0]
    children = runs[runs["tags.role"] == "job"].set_index("params.model.depth")
    assert parent["params.model.depth"] == "1,2" and parent["params.loss.name"] == "bce"
    assert parent["params.swept"] == "model.depth"
    assert parent["metrics.summary/configs"] == 2 and parent["metrics.summary/runs"] == 2
    assert parent["metrics.summary/best_test_dice"] == round(children["metrics.test_dice"].max(), 4)
    assert not [c for c in runs.columns if c.startswith("metrics.d")]  # no per-config metric
    best = children["metrics.test_dice"].idxmax()
    assert parent["tags.best_config_by_test_dice"] == f"d{best} c1 transpose2 b128 bce e2"
    assert "Sweep of 2 config(s), 2 run(s)" in parent["tags.mlflow.note.content"]
    assert parent["tags.sweep_overrides"]  # the tags it had are kept
    child = runs[runs["tags.role"] == "job"].iloc[0]
    assert child["tags.mlflow.runName"].startswith("s0 d")
    assert (
        "U-Net depth" in child["tags.mlflow.note.content"]
        and parent["run_id"] in child["tags.mlflow.note.content"]
    )


def test_terminal_shows_one_line_per_epoch_and_a_summary(sweep):
    _, out, _ = sweep
    text = out.stdout + out.stderr
    assert text.count("[#0] epoch ") == 2 and text.count("[#1] epoch ") == 2
    assert text.count("[#0] done ") == 1 and text.count("[#1] done ") == 1
    assert "oneDNN" not in text and "absl" not in text


def test_single_run_is_a_plain_run(tmp_path, store):
    out = run_cli(*TINY, f"tracking.uri={store}", "tracking.experiment=single", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    runs = search_runs(store, "single")
    assert len(runs) == 1 and runs.iloc[0]["status"] == "FINISHED"
    assert (
        "tags.mlflow.parentRunId" not in runs.columns
        or runs["tags.mlflow.parentRunId"].isna().all()
    )


def test_tracking_uri_precedence(tmp_path):
    env_store = f"sqlite:///{tmp_path / 'env' / 'mlflow.db'}"
    cfg_store = f"sqlite:///{tmp_path / 'cfg' / 'mlflow.db'}"
    out = run_cli(*TINY, cwd=tmp_path, env={"MLFLOW_TRACKING_URI": env_store})
    assert out.returncode == 0, out.stderr[-3000:]
    assert len(search_runs(env_store)) == 1
    out = run_cli(
        *TINY, f"tracking.uri={cfg_store}", cwd=tmp_path, env={"MLFLOW_TRACKING_URI": env_store}
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert len(search_runs(env_store)) == 1 and len(search_runs(cfg_store)) == 1


def test_same_seed_same_split_same_metrics(tmp_path):
    """In-process, without Hydra: run_experiment is a plain function."""
    from omegaconf import OmegaConf

    from unetexp.config.schema import Config
    from unetexp.experiment import run_experiment

    cfg = OmegaConf.structured(Config())
    cfg.data.name, cfg.data.count, cfg.data.size, cfg.train.epochs = "synthetic", 24, 16, 2
    cfg.tracking.uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg.force = True  # the second run would otherwise reuse the first
    first, second = run_experiment(cfg), run_experiment(cfg)
    cfg.seed = 1
    other = run_experiment(cfg)
    keys = ["test_loss", "test_accuracy", "test_dice", "n_params"]
    assert [first[k] for k in keys] == [second[k] for k in keys]
    assert first["test_loss"] != other["test_loss"]


PETS = Path(os.environ.get("UNETEXP_DATA_DIR", "")) / "oxford_pets_64_red.npz"


@pytest.mark.skipif(
    not PETS.is_file(),
    reason="the study's dataset is not built here "
    "(set UNETEXP_DATA_DIR to a folder holding oxford_pets_64_red.npz)",
)
def test_one_epoch_on_the_real_data(tmp_path, store):
    out = run_cli("data=pets", "train.epochs=1", f"tracking.uri={store}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    run = search_runs(store).iloc[0]
    assert run["params.data.n_train"] == "590" and run["params.data.n_test"] == "148"
    assert run["metrics.n_params"] == 237_457 and run["metrics.test_accuracy"] > 0.5
