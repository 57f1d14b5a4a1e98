"""Scaling out: the joblib launcher against a real `mlflow server` on loopback (Ray: test_ray.py),
job errors of parallel jobs and thread limits (the search: test_search.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import TINY, run_cli, search_runs

EPOCH_METRICS = [
    "train_loss",
    "train_accuracy",
    "train_dice",
    "train_iou",
    "val_loss",
    "val_accuracy",
    "val_dice",
    "val_iou",
    "lr",
]
FINAL_METRICS = [
    "n_params",
    "train_time_s",
    "epochs_run",
    "test_loss",
    "test_accuracy",
    "test_dice",
    "test_iou",
    "test_object_f1",
    "floor_object_dice",
]
JOBLIB = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]  # two jobs at once on this machine


def sweep_of(uri: str, experiment: str):
    """(parent row, children DataFrame) of the only multirun of an experiment."""
    runs = search_runs(uri, experiment)
    parents = runs[runs["tags.role"] == "sweep"]
    assert len(parents) == 1, runs[["run_id", "status", "tags.role"]]
    return parents.iloc[0], runs[runs["tags.role"] == "job"]


def assert_nothing_lost(uri: str, children, epochs: int) -> None:
    """Every job run holds every final metric and every epoch of every per-epoch metric."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=uri)
    for _, child in children.iterrows():
        for key in FINAL_METRICS:
            assert child[f"metrics.{key}"] == child[f"metrics.{key}"], (child["run_id"], key)
        for key in EPOCH_METRICS:
            steps = [m.step for m in client.get_metric_history(child["run_id"], key)]
            assert sorted(steps) == list(range(1, epochs + 1)), (child["run_id"], key, steps)
        artifacts = {a.path for a in client.list_artifacts(child["run_id"])}
        assert {"config.yaml", "classification_report.json"} <= artifacts


def test_thread_keys_are_validated_and_stay_out_of_the_hash():
    from conftest import make_cfg

    from unetexp.config.hashing import config_hash
    from unetexp.config.validation import validate
    from unetexp.errors import ConfigError

    cfg = make_cfg("train.intra_op_threads=1", "train.inter_op_threads=2")
    assert config_hash(cfg) == config_hash(make_cfg())  # same runs whatever the launcher
    with pytest.raises(ConfigError, match=r"^train.intra_op_threads=-1 is invalid"):
        validate(make_cfg("train.intra_op_threads=-1"))


def test_threads_are_set_once_per_process_and_later_changes_only_warn(caplog):
    import tensorflow as tf

    from unetexp.training import runtime as train

    tf.constant(1.0) + 1  # TensorFlow's context now exists: its pools are fixed
    intra = tf.config.threading.get_intra_op_parallelism_threads()
    inter = tf.config.threading.get_inter_op_parallelism_threads()
    assert train.set_threads(intra, inter)
    assert not train.set_threads(intra + 1, inter)
    assert "train.intra_op_threads=" in caplog.text and "not applied" in caplog.text
    assert tf.config.threading.get_intra_op_parallelism_threads() == intra


def test_job_whose_parent_is_not_in_its_sqlite_store_needs_a_server(tmp_path):
    """What a Ray job on another machine meets with a SQLite tracking.uri: one line, no run."""
    from omegaconf import OmegaConf

    from unetexp.config.schema import Config
    from unetexp.errors import ConfigError
    from unetexp.experiment import JobContext, run_experiment

    cfg = OmegaConf.structured(Config())
    cfg.data.name, cfg.data.count, cfg.data.size = "synthetic", 24, 16
    cfg.tracking.uri = f"sqlite:///{tmp_path / 'elsewhere' / 'mlflow.db'}"
    with pytest.raises(
        ConfigError, match="parent run 0123abcd is not in this store.*mlflow server"
    ):
        run_experiment(cfg, JobContext(job_num=0, parent_run_id="0123abcd"))
    assert not (tmp_path / "elsewhere").exists()  # nothing created on the "other machine"


WRITER = f"""
import sys
from unetexp.tracking.job import job_run
uri, parent, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with job_run(uri, "unetexp", f"writer{{n}}", {{"role": "job", "job_num": str(n)}},
                      {{"writer": n}}, parent_run_id=parent) as run:
    for epoch in range(1, 31):
        run.log_epoch(epoch, {{key: epoch / 100 for key in {EPOCH_METRICS!r}}})
"""


def test_parallel_writers_to_one_sqlite_store_lose_nothing(tmp_path, store):
    """Four processes create their runs and log 30 epochs of 9 metrics at once into one new
    SQLite store, as parallel jobs on one machine do: nothing lost, nothing locked out."""
    import mlflow

    from unetexp.tracking.parent import start_parent

    parent = start_parent(store, "unetexp", "writers", {"role": "sweep"})
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, store, parent, str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in range(4)
    ]
    for proc in procs:
        out = proc.communicate(timeout=180)[0]
        assert proc.returncode == 0, out[-3000:]
    runs = search_runs(store)
    children = runs[runs["tags.role"] == "job"]
    assert len(children) == 4 and (children["status"] == "FINISHED").all()
    assert (children["tags.mlflow.parentRunId"] == parent).all()
    client = mlflow.MlflowClient(tracking_uri=store)
    for run_id in children["run_id"]:
        for key in EPOCH_METRICS:
            assert sorted(m.step for m in client.get_metric_history(run_id, key)) == list(
                range(1, 31)
            )


def test_joblib_multirun_logs_to_a_server(server, tmp_path):
    """4 jobs, 2 loky workers of 1 TensorFlow thread each, one tracking server: one parent, four
    FINISHED children, nothing lost; then the basic launcher reuses all four."""
    args = [
        "-m",
        *JOBLIB,
        "model.depth=1,2",
        "seed=0,1",
        *TINY,
        "train.epochs=2",
        "train.intra_op_threads=1",
        "train.inter_op_threads=1",
        f"tracking.uri={server}",
        "tracking.experiment=joblib",
    ]
    out = run_cli(*args, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    parent, children = sweep_of(server, "joblib")
    assert parent["status"] == "FINISHED"
    assert len(children) == 4 and (children["status"] == "FINISHED").all()
    assert (children["tags.mlflow.parentRunId"] == parent["run_id"]).all()
    assert children["tags.pid"].nunique() >= 2  # worker processes, none the launcher's
    assert parent["tags.pid"] not in set(children["tags.pid"])
    assert sorted(children["tags.job_num"]) == ["0", "1", "2", "3"]
    assert_nothing_lost(server, children, epochs=2)
    text = out.stdout + out.stderr
    assert text.count("TensorFlow threads: 1 intra-op, 1 inter-op") == 4

    out = run_cli(*[a for a in args if "launcher" not in a], cwd=tmp_path)  # basic launcher
    assert out.returncode == 0, out.stderr[-3000:]
    assert "0 trained, 4 skipped" in out.stdout + out.stderr


def test_user_errors_of_parallel_jobs_end_in_one_line(tmp_path, store):
    """Both jobs fail on their data in their workers (masks that are not 0/1, which only
    loading the arrays shows): each records its error on the parent, the sweep ends with one
    line and exit 2, the parent FAILED, nothing RUNNING."""
    import numpy as np
    from conftest import write_npz

    data = write_npz(
        tmp_path / "bad masks.npz", n=8, size=16, masks=np.full((8, 16, 16), 3, np.uint8)
    )
    out = run_cli(
        "-m",
        *JOBLIB,
        "model.depth=1,2",
        "data=npz",
        f"data.path='{data}'",
        "train.epochs=1",
        f"tracking.uri={store}",
        cwd=tmp_path,
    )
    assert out.returncode == 2, out.stderr[-3000:]
    assert "Traceback" not in out.stderr and "HYDRA_FULL_ERROR" not in out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("unetexp: error: 2 jobs failed (parent run ")
    assert f"[#0] {data}" in last and f"[#1] {data}" in last
    runs = search_runs(store)
    assert list(runs["status"]) == ["FAILED"] and list(runs["tags.role"]) == ["sweep"]


def test_ctrl_c_in_a_joblib_multirun_leaves_nothing_running(tmp_path, store):
    """SIGINT to the whole process group, as a terminal's Ctrl-C sends it, while both workers
    train: exit 130, parent and children KILLED."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "unetexp",
            "-m",
            *JOBLIB,
            "model.depth=1,2,3",
            *TINY,
            "train.epochs=200",
            "train.intra_op_threads=1",
            f"tracking.uri={store}",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    started, deadline = set(), time.monotonic() + 240
    for line in proc.stdout:
        if " epoch 1/" in line:
            started.add(line.split("]")[1])
        if len(started) == 2 or time.monotonic() > deadline:
            break
    os.killpg(proc.pid, signal.SIGINT)
    assert len(started) == 2, f"only {sorted(started)} started training within 240 s"
    rest = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, rest[-3000:]
    assert "unetexp: interrupted" in rest and "Traceback" not in rest
    runs = search_runs(store)
    assert len(runs) == 3 and (runs["status"] == "KILLED").all(), runs[["status", "tags.role"]]


def parallel_jobs_of_one_config(tmp_path, store: str, launcher: list[str], env: dict | None = None):
    """`seed=0,0`: two jobs of one config run at once in two workers: one trains it, the other
    waits for it and reuses it (the claim is atomic under the store's lock)."""
    out = run_cli(
        "-m",
        *launcher,
        "seed=0,0",
        *TINY,
        "train.intra_op_threads=1",
        f"tracking.uri={store}",
        cwd=tmp_path,
        env=env,
        timeout=400,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "1 trained, 1 skipped" in out.stdout + out.stderr
    runs = search_runs(store)
    assert sorted(runs["tags.role"]) == ["job", "sweep"] and (runs["status"] == "FINISHED").all()


def test_parallel_jobs_of_one_config_train_it_once(tmp_path, store):
    parallel_jobs_of_one_config(tmp_path, store, JOBLIB)
