"""A killed job resumes from its last epoch in the same MLflow run (training/checkpoint.py,
tracking/claim.py): `kill -9` mid-training, then the same command again."""

import signal
import time
from pathlib import Path

import pytest
from conftest import client_runs, run_cli, start_cli

from unetexp.training.checkpoint_files import saved_epoch

EPOCHS = 20
ARGS = ["data=synthetic", "data.count=64", "data.size=32", f"train.epochs={EPOCHS}"]


def saved_epochs(checkpoints: Path) -> dict[str, int]:
    """Run id -> epochs its checkpoint holds."""
    if not checkpoints.is_dir():
        return {}
    return {folder.name: saved_epoch(folder) for folder in checkpoints.iterdir()}


def kill_after_epoch(args: list[str], cwd: Path, checkpoints: Path, epoch: int) -> tuple[str, int]:
    """Start the job, SIGKILL it once its checkpoint holds `epoch` epochs; the run id and the
    epochs its checkpoint held when it died."""
    job = start_cli(*args, cwd=cwd)
    deadline = time.monotonic() + 300
    while not any(n >= epoch for n in saved_epochs(checkpoints).values()):
        assert job.poll() is None, job.stderr.read() if job.stderr else ""
        assert time.monotonic() < deadline, "no checkpoint within 300 s"
        time.sleep(0.05)  # polling the checkpoint file, not timing the job
    job.send_signal(signal.SIGKILL)
    job.wait(timeout=60)
    [(run_id, held)] = saved_epochs(checkpoints).items()
    return run_id, held


@pytest.mark.slow
def test_a_job_killed_at_epoch_k_resumes_at_k_plus_1_in_the_same_run(tmp_path, store):
    args = [*ARGS, f"tracking.uri={store}"]
    checkpoints = tmp_path / "mlruns" / "checkpoints"
    run_id, held = kill_after_epoch(args, tmp_path, checkpoints, epoch=3)
    assert 3 <= held < EPOCHS
    [killed] = client_runs(store)
    assert killed.info.status == "RUNNING"  # SIGKILL: nobody closed it

    out = run_cli(*args, cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"resuming KILLED run {run_id} from its checkpoint" in out.stdout + out.stderr
    [run] = client_runs(store)
    assert run.info.run_id == run_id and run.info.status == "FINISHED"
    assert run.data.tags["resumed_at_epoch"] == str(held + 1)
    assert run.data.tags["resumes"] == "1"
    assert "another order" in run.data.tags["resume_note"]
    assert run.data.metrics["epochs_run"] == EPOCHS
    assert 0 < run.data.metrics["checkpoint_time_s"] < run.data.metrics["train_time_s"]

    import mlflow

    client = mlflow.MlflowClient(tracking_uri=store)
    for key in ("train_loss", "val_dice", "lr"):
        steps = sorted(m.step for m in client.get_metric_history(run_id, key))
        assert steps == list(range(1, EPOCHS + 1)), key  # each epoch once
    assert not (checkpoints / run_id).exists()  # FINISHED: its checkpoint is gone


class Killed(Exception):
    """What a kill does to a job between an epoch's checkpoint and its MLflow log."""


def test_a_resumed_fit_keeps_the_optimizer_callbacks_and_history_and_logs_each_epoch_once(
    tmp_path,
):
    """ReduceLROnPlateau halves the lr after every epoch (min_delta 10: none improves) and early
    stopping counts the same plateau. Killed after epoch 3's checkpoint, before its log: the
    resumed fit logs epoch 3 first, then 4 and 5 with the lr still halving (the optimizer's
    learning rate and the plateau counter came back), and early stopping stops at epoch 5
    as it would have without the kill (patience 4 counted across the two processes)."""
    from conftest import tiny_cfg, tiny_splits

    from unetexp.training.fit import train_and_evaluate

    cfg = tiny_cfg(
        **{
            "train.epochs": 8,
            "train.reduce_lr.enabled": True,
            "train.reduce_lr.patience": 0,
            "train.reduce_lr.min_delta": 10.0,
            "train.reduce_lr.min_lr": 0.0,
            "train.early_stopping.enabled": True,
            "train.early_stopping.patience": 4,
            "train.early_stopping.min_delta": 10.0,
        }
    )
    splits, folder = tiny_splits(cfg), tmp_path / "state"
    logged: list[int] = []

    def die_at_3(epoch, metrics):
        if epoch == 3:
            raise Killed
        logged.append(epoch)

    with pytest.raises(Killed):
        train_and_evaluate(cfg, splits, on_epoch=die_at_3, checkpoint_dir=folder)
    assert logged == [1, 2] and saved_epoch(folder) == 3

    lrs: dict[int, float] = {}
    result = train_and_evaluate(
        cfg,
        splits,
        on_epoch=lambda e, m: (logged.append(e), lrs.update({e: m["lr"]})),
        checkpoint_dir=folder,
        logged_epochs=set(logged),
    )
    assert logged == [1, 2, 3, 4, 5]  # each epoch once; 3 from the checkpoint
    assert result.resumed_at == 4 and result.epochs_run == 5 and result.best_epoch == 1
    # the lr each epoch used: first reduced at the end of epoch 2
    assert result.history["lr"] == pytest.approx([1e-3, 1e-3, 5e-4, 2.5e-4, 1.25e-4])
    assert lrs[4] == pytest.approx(2.5e-4)
    assert result.train_time_s > 0
