"""Sweeps on a real one-node Slurm cluster (tests/slurm/one_node.sh) through Hydra's submitit
launcher (hydra/launcher=slurm): a job array, and a job requeued mid-training that resumes
in its MLflow run. CI (.ci/run) installs Slurm; elsewhere the tests skip when none can start."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import client_runs, start_cli, unavailable, wait_for

from unetexp.training.checkpoint_files import saved_epoch

HERE = Path(__file__).resolve().parent
SMALL = ["data=synthetic", "data.count=48", "data.size=32", "hydra.launcher.cpus_per_task=1"]


def _answers(env: dict) -> bool:
    out = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True)
    return out.returncode == 0 and any(s in out.stdout for s in ("idle", "mixed", "allocated"))


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """The environment of a Slurm that answers: $SLURM_CONF's, else a one-node cluster started
    here as root (and stopped after the module). In CI a Slurm must start."""
    env = dict(os.environ)
    if shutil.which("sinfo") and env.get("SLURM_CONF") and _answers(env):
        yield env
        return
    reason = None
    if not shutil.which("slurmctld") or not Path("/usr/sbin/slurmctld").exists():
        reason = "no Slurm here (Debian: apt-get install slurmctld slurmd slurm-client munge)"
    elif os.geteuid() != 0:
        reason = "a one-node Slurm starts as root only"
    if reason:
        unavailable(reason, "Slurm")
    folder = tmp_path_factory.mktemp("slurm")
    started = subprocess.run(
        ["bash", str(HERE / "one_node.sh"), "start", str(folder)], capture_output=True, text=True
    )
    assert started.returncode == 0, started.stderr
    env["SLURM_CONF"] = str(folder / "slurm.conf")
    try:
        yield env
    finally:
        subprocess.run(["bash", str(HERE / "one_node.sh"), "stop", str(folder)], check=True)


def sweep(args: list[str], cwd: Path, slurm: dict) -> subprocess.Popen:
    """The sweep on the Slurm of `slurm`, its output (submitit's and Hydra's) on stdout."""
    return start_cli(
        "-m",
        *args,
        "hydra/launcher=slurm",
        cwd=cwd,
        stdout=subprocess.PIPE,
        env={"SLURM_CONF": slurm["SLURM_CONF"]},
    )


def completed_jobs(env: dict) -> list[dict[str, str]]:
    """Slurm's job-completion log (JobCompType=jobcomp/filetxt): one dict per job."""
    conf = Path(env["SLURM_CONF"]).read_text()
    [where] = [
        line.split("=", 1)[1] for line in conf.splitlines() if line.startswith("JobCompLoc=")
    ]
    path = Path(where)
    lines = path.read_text().splitlines() if path.is_file() else []
    return [dict(f.split("=", 1) for f in line.split() if "=" in f) for line in lines]


@pytest.mark.slow
def test_a_depth_sweep_is_one_slurm_job_array_of_five_finished_children(slurm, tmp_path, store):
    before = {job["JobId"] for job in completed_jobs(slurm)}
    job = sweep(
        ["+sweep=depth", "train.epochs=2", *SMALL, f"tracking.uri={store}"], tmp_path, slurm
    )
    out, _ = job.communicate(timeout=900)
    assert job.returncode == 0, out[-3000:]
    parents = [r for r in client_runs(store) if r.data.tags.get("role") == "sweep"]
    children = [r for r in client_runs(store) if r.data.tags.get("role") == "job"]
    assert [p.info.status for p in parents] == ["FINISHED"]
    assert sorted(r.data.params["model.depth"] for r in children) == ["1", "2", "3", "4", "5"]
    assert {r.info.status for r in children} == {"FINISHED"}
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}

    # Slurm's own record: five completed tasks of one array, the ids the runs carry. slurmctld
    # writes a task's record once it has reaped it, which can come after submitit has read the
    # task's result and the sweep has returned: wait for the five records.
    def ours() -> list[dict[str, str]]:
        return [j for j in completed_jobs(slurm) if j["JobId"] not in before]

    wait_for(lambda: len(ours()) >= 5, "five records in Slurm's job-completion log", 120)
    assert {j["JobState"] for j in ours()} == {"COMPLETED"} and len(ours()) == 5
    [array] = {j["ArrayJobId"] for j in ours()}
    tasks = {f"{array}_{j['ArrayTaskId']}" for j in ours()}
    assert {r.data.tags["slurm_job_id"] for r in children} == tasks


@pytest.mark.slow
def test_a_search_launches_each_batch_as_one_slurm_job_array(slurm, tmp_path):
    """2 batches of 2 trials: 2 arrays of 2 tasks; the trials report to the study's SQLite
    storage from Slurm's jobs, and every trial is one run of the parent."""
    from searching import TINY_SEARCH, check_trials_match_runs, study

    store = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    job = sweep(
        [
            "hydra/sweeper=search",
            *TINY_SEARCH,
            "hydra.sweeper.n_trials=4",
            "hydra.launcher.cpus_per_task=1",
            f"tracking.uri={store}",
            f"hydra.sweeper.storage=sqlite:///{tmp_path / 'optuna.db'}",
            "hydra.sweeper.study_name=tiny",
        ],
        tmp_path,
        slurm,
    )
    out, _ = job.communicate(timeout=900)
    assert job.returncode == 0, out[-3000:]
    runs = check_trials_match_runs(tmp_path, n_trials=4)
    arrays = runs[runs["tags.role"] == "job"]["tags.slurm_job_id"].str.split("_").str[0]
    assert sorted(arrays.value_counts()) == [2, 2]
    assert len(study(tmp_path).trials) == 4


def squeue(env: dict) -> list[tuple[str, str]]:
    out = subprocess.run(
        ["squeue", "-h", "-o", "%i %T"], env=env, capture_output=True, text=True, check=True
    )
    return [tuple(line.split()) for line in out.stdout.splitlines()]  # type: ignore[misc]


@pytest.mark.slow
def test_a_job_requeued_after_its_third_epoch_resumes_in_the_same_run(slurm, tmp_path, store):
    """`scontrol requeue` kills the running job (as a preemption does) and queues it again:
    the new start resumes at the next epoch in the same MLflow run, which ends FINISHED with
    ten epochs of metrics, each once."""
    checkpoints = tmp_path / "mlruns" / "checkpoints"
    job = sweep(["train.epochs=10", *SMALL, f"tracking.uri={store}"], tmp_path, slurm)

    def held() -> int:
        states = [saved_epoch(f) for f in checkpoints.iterdir()] if checkpoints.is_dir() else []
        return max(states, default=0)

    wait_for(lambda: held() >= 3, "a checkpoint of 3 epochs")
    [(job_id, state)] = squeue(slurm)
    assert state == "RUNNING"
    subprocess.run(["scontrol", "requeue", job_id], env=slurm, check=True)
    # Slurm holds a requeued job back (BeginTime, about two minutes): let it start at once
    wait_for(lambda: dict(squeue(slurm)).get(job_id) == "PENDING", "the job pending again")
    at_kill = held()  # the job is dead: its checkpoint stays as it is until the new start
    subprocess.run(
        ["scontrol", "update", f"JobId={job_id}", "StartTime=now"], env=slurm, check=True
    )
    out, _ = job.communicate(timeout=900)
    assert job.returncode == 0, out[-3000:]

    [run] = [r for r in client_runs(store) if r.data.tags.get("role") == "job"]
    assert run.info.status == "FINISHED" and run.data.metrics["epochs_run"] == 10
    assert 3 <= at_kill < 10
    assert run.data.tags["resumed_at_epoch"] == str(at_kill + 1)
    assert run.data.tags["slurm_restart_count"] == "1"
    assert run.data.tags["slurm_job_id"].split("_")[0] == job_id.split("_")[0]
    import mlflow

    history = mlflow.MlflowClient(tracking_uri=store).get_metric_history(
        run.info.run_id, "train_loss"
    )
    assert sorted(m.step for m in history) == list(range(1, 11))
    assert not any(checkpoints.iterdir())
