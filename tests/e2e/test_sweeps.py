"""A real table sweep on tiny synthetic data: export, compare, report, skip and resume."""

from __future__ import annotations

import base64
import io
import re
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from conftest import TINY, run_cli, run_with_stdout_closed, search_runs
from PIL import Image

from unetexp.commands.base import OUTPUT_CLOSED_EXIT

SWEEP = ["-m", "+sweep=depth", "model.depth=2,3", "seed=0,1", *TINY]


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("swept")
    store = f"sqlite:///{tmp / 'mlflow.db'}"
    out = run_cli(*SWEEP, f"tracking.uri={store}", cwd=tmp)
    assert out.returncode == 0, out.stderr[-3000:]
    return tmp, store


def cli_ok(*args, cwd):
    out = run_cli(*args, cwd=cwd)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def test_export_one_row_per_run(swept):
    tmp, store = swept
    cli_ok(
        "export", "--tracking-uri", store, "--sweep", "depth", "-o", str(tmp / "runs.csv"), cwd=tmp
    )
    runs = pd.read_csv(tmp / "runs.csv")
    assert len(runs) == 4 and set(runs["seed"]) == {0, 1} and set(runs["sweep"]) == {"depth"}
    for column in (
        "run_id",
        "model.depth",
        "model.convs",
        "loss.name",
        "n_params",
        "train_time_s",
        "test_loss",
        "test_accuracy",
        "test_dice",
        "test_iou",
        "test_object_f1",
    ):
        assert column in runs.columns, column
    assert dict(zip(runs["model.depth"], runs["n_params"], strict=False)) == {2: 226593, 3: 237457}
    mlflow_runs = search_runs(store).set_index("run_id")
    for _, row in runs.iterrows():
        assert row["test_accuracy"] == pytest.approx(
            mlflow_runs.loc[row["run_id"], "metrics.test_accuracy"]
        )


def test_export_aggregate_and_only_changed(swept):
    tmp, store = swept
    out = cli_ok("export", "--tracking-uri", store, "--aggregate", "--only-changed", cwd=tmp)
    agg = pd.read_csv(io.StringIO(out.stdout))
    runs = pd.read_csv(io.StringIO(cli_ok("export", "--tracking-uri", store, cwd=tmp).stdout))
    assert (
        list(agg["n"]) == [2, 2]
        and "model.convs" not in agg.columns
        and "model.depth" in agg.columns
    )
    assert {"test_accuracy_mean", "test_accuracy_std", "test_accuracy_ci95"} <= set(agg.columns)
    expected = runs.groupby("model.depth")["test_accuracy"].agg(["mean", "std"])
    assert list(agg["test_accuracy_mean"]) == pytest.approx(list(expected["mean"]))
    assert list(agg["test_accuracy_std"]) == pytest.approx(list(expected["std"]))
    # 95 % CI half-width with 1 degree of freedom: t(0.975, 1) = 12.706
    assert list(agg["test_accuracy_ci95"]) == pytest.approx(
        list(12.7062 * expected["std"] / 2**0.5), rel=1e-4
    )


def test_compare_with_the_study(swept):
    tmp, store = swept
    cli_ok("export", "--tracking-uri", store, "-o", str(tmp / "a.csv"), cwd=tmp)
    out = cli_ok(
        "compare",
        str(tmp / "a.csv"),
        "study:depth",
        "--only-changed",
        "--csv",
        str(tmp / "cmp.csv"),
        cwd=tmp,
    )
    table = pd.read_csv(tmp / "cmp.csv")
    assert list(table["model.depth"]) == [2, 3]
    assert list(table["test_accuracy B"]) == [0.7738, 0.7825]
    assert list(table["test_accuracy delta"]) == pytest.approx(
        list(table["test_accuracy A"] - table["test_accuracy B"])
    )
    assert list(table["n_params delta"]) == [0, 0]  # the builder matches the study
    assert "| model.depth |" in out.stdout
    lines = out.stdout.splitlines()
    warning = lines.index(
        "warning: data A is synthetic (generated shapes, not photographs): "
        "its figures are not comparable with the study's"
    )
    assert (
        lines[warning - 1].startswith("data A: synthetic(count=")
        and "sha256 " in lines[warning - 1]
    )
    table_line = lines.index(next(line for line in lines if line.startswith("| model.depth |")))
    assert warning < table_line
    unlike = next(i for i, line in enumerate(lines) if line.startswith("note: the runs of A"))
    assert unlike < table_line and lines[unlike].startswith(
        "note: the runs of A differ from the study's settings: epochs 1 (study: 10); data synthetic"
    )
    assert "The study's conclusions on A (test_accuracy, test_dice" in out.stdout
    assert "model.depth: 3 vs 2" in out.stdout and "3 vs 4" not in out.stdout
    # the study printed Dice for table 5 only: its blank Dice column is said so, in one line
    assert table["test_dice B"].isna().all()
    assert (
        "note: test_dice B (and its delta) is blank for tables depth, convs, upsample, bottleneck: "
        "the study printed test_dice only for loss"
    ) in lines


def conclusion_rows(text: str) -> set[tuple[str, str]]:
    """(comparison, metric) of every row of a conclusions table in Markdown."""
    rows = [
        line.split(" | ")
        for line in text.splitlines()
        if line.startswith("| depth | model.depth: ")
    ]
    return {(cells[1], cells[3]) for cells in rows}


def test_compare_and_report_test_the_same_conclusions(swept):
    tmp, store = swept
    cli_ok(
        "export", "--tracking-uri", store, "--sweep", "depth", "-o", str(tmp / "same.csv"), cwd=tmp
    )
    compared = cli_ok("compare", str(tmp / "same.csv"), "study:depth", cwd=tmp).stdout
    cli_ok(
        "report",
        "--tracking-uri",
        store,
        "--sweep",
        "depth",
        "--no-log",
        "--out",
        str(tmp / "same"),
        cwd=tmp,
    )
    reported = (tmp / "same" / "report.md").read_text()
    assert conclusion_rows(compared) == conclusion_rows(reported)
    assert {metric for _, metric in conclusion_rows(reported)} == {"test_accuracy", "test_dice"}
    note = "study_diff of test_dice is blank for tables depth, convs, upsample, bottleneck"
    assert note in compared and note in reported


def test_report_files_and_artifacts(swept):
    import mlflow

    tmp, store = swept
    out = cli_ok(
        "report", "--tracking-uri", store, "--sweep", "depth", "--out", str(tmp / "rep"), cwd=tmp
    )
    text = (tmp / "rep" / "report.md").read_text()
    assert text.splitlines()[2].startswith("data: synthetic(count=")
    assert text.index("warning: data is synthetic") < text.index("## Table 1 - depth")
    assert "## Table 1 - depth" in text and "77.38" in text and "+-" in text
    assert "model.depth: 3 vs 2" in text
    assert "all background: accuracy %" in text
    for name in ("report.html", "table1_depth.png", "accuracy_vs_cost.png"):
        assert (tmp / "rep" / name).stat().st_size > 1000, name
    parent_id = search_runs(store).query("`tags.role` == 'sweep'").iloc[0]["run_id"]
    header = text.split("## ")[0]
    assert f"parent run: {parent_id}" in header and "date: 20" in header
    assert re.search(r"code: runs trained at git commit [0-9a-f]{10}", header)
    assert "Note: the study printed no Dice for this table" in text
    assert (
        "note: these runs differ from the study's settings: epochs 1 (study: 10); data "
        "synthetic(count=24"
    ) in header  # before any delta
    page = (tmp / "rep" / "report.html").read_text()
    assert "<code>holds</code>" in page and "`" not in page
    assert "<td>True</td>" not in page and "<td>False</td>" not in page  # yes / no, as in .md
    conclusions = next(line for line in text.splitlines() if line.startswith("| table |"))
    assert conclusions.startswith("| table | comparison | main | metric | verdict | holds |")
    sources = re.findall(r'<img src="([^"]*)"', page)
    assert len(sources) == 2 and all(s.startswith("data:image/png;base64,") for s in sources)
    for source in sources:  # each decodes to a picture: nothing to fetch beside the page
        assert Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))).size[0] > 500
    assert f"{tmp / 'rep' / 'report.html'}" in out.stdout
    parent = search_runs(store).query("`tags.role` == 'sweep'").iloc[0]["run_id"]
    logged = {a.path for a in mlflow.MlflowClient(store).list_artifacts(parent, "report")}
    assert {"report/report.html", "report/table1_depth.png"} <= logged
    assert "report/report.md" not in logged  # its pictures would show as text in MLflow
    assert "logged to run" in out.stdout
    description = mlflow.MlflowClient(store).get_run(parent).data.tags["mlflow.note.content"]
    assert description.startswith("**Report**: the artifact report/report.html")
    assert "Sweep of " in description and "once `unetexp report" not in description


def test_export_and_report_never_import_tensorflow(swept):
    from conftest import heavy_imports

    tmp, store = swept
    assert heavy_imports("export", "--tracking-uri", store, "-o", str(tmp / "x.csv"), cwd=tmp) == []
    # report draws its figures in a worker process (FigurePool): this one loads no matplotlib
    assert (
        heavy_imports(
            "report",
            "--tracking-uri",
            store,
            "--sweep",
            "depth",
            "--no-log",
            "--out",
            str(tmp / "rep2"),
            cwd=tmp,
        )
        == []
    )
    assert (tmp / "x.csv").exists() and (tmp / "rep2" / "report.md").exists()
    assert (tmp / "rep2" / "table1_depth.png").read_bytes().startswith(b"\x89PNG")


def test_a_closed_output_pipe_ends_export_compare_and_report_quietly(swept):
    tmp, store = swept
    cli_ok(
        "export", "--tracking-uri", store, "--sweep", "depth", "-o", str(tmp / "piped.csv"), cwd=tmp
    )
    for args in (
        ["export", "--tracking-uri", store, "--sweep", "depth"],
        ["compare", str(tmp / "piped.csv"), "study:depth"],
        [
            "report",
            "--tracking-uri",
            store,
            "--sweep",
            "depth",
            "--no-log",
            "--out",
            str(tmp / "piped"),
        ],
    ):
        assert run_with_stdout_closed(*args, cwd=tmp) == (OUTPUT_CLOSED_EXIT, ""), args


def test_bad_export_inputs(swept, tmp_path):
    tmp, store = swept
    out = run_cli("export", "--tracking-uri", store, "--sweep", "nope", cwd=tmp)
    assert (
        out.returncode == 2
        and out.stderr.strip() == "unetexp: error: no sweep named 'nope' in experiment 'unetexp'"
    )
    out = run_cli("compare", str(tmp_path / "missing.csv"), cwd=tmp)
    assert out.returncode == 2 and "missing.csv: export file not found" in out.stderr
    assert "Traceback" not in out.stderr


def test_rerun_trains_nothing_and_force_retrains(swept):
    tmp, store = swept
    finished_before = (search_runs(store)["status"] == "FINISHED").sum()
    out = cli_ok(*SWEEP, f"tracking.uri={store}", cwd=tmp)
    assert out.stdout.count("skipped") >= 4 and "0 trained, 4 skipped" in out.stdout + out.stderr
    runs = search_runs(store)
    jobs = runs[runs["tags.role"] == "job"]
    assert (
        len(jobs) == 4 and (runs["status"] == "FINISHED").sum() == finished_before + 1
    )  # + new parent
    parent = runs[(runs["tags.role"] == "sweep")].sort_values("start_time").iloc[-1]
    assert sorted(v for k, v in parent.items() if k.startswith("tags.reused.")) == sorted(
        jobs["run_id"]
    )
    out = cli_ok("-m", *TINY, "model.depth=2", "force=true", f"tracking.uri={store}", cwd=tmp)
    assert "1 trained, 0 skipped" in out.stdout + out.stderr and "] skipped" not in out.stdout
    assert len(search_runs(store).query("`tags.role` == 'job'")) == 5


def test_killed_sweep_resumes(tmp_path):
    """SIGKILL during the second job, then the same command: one FINISHED run per config,
    none left RUNNING, nothing trained twice."""
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = [
        "-m",
        "model.depth=1,2",
        *TINY,
        "train.epochs=6",
        "data.count=64",
        f"tracking.uri={store}",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "unetexp", *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 240
    for line in proc.stdout:
        if "[#1] epoch 1/" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    before = search_runs(store)
    assert (before["status"] == "RUNNING").sum() == 2  # the parent and job 1, as SIGKILL left them
    first = before[(before["tags.role"] == "job") & (before["status"] == "FINISHED")]
    assert list(first["params.model.depth"]) == ["1"]

    out = run_cli(*args, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    runs = search_runs(store)
    assert not (runs["status"] == "RUNNING").any()
    finished = runs[(runs["tags.role"] == "job") & (runs["status"] == "FINISHED")]
    # depth 1 reused from the killed sweep; depth 2 trained once: resumed in its run when the
    # kill came after its first checkpoint (test_resume), else anew beside its KILLED run
    assert sorted(finished["params.model.depth"]) == ["1", "2"]
    resumed = (
        finished["tags.resumed_at_epoch"].notna().any()
        if "tags.resumed_at_epoch" in runs
        else False
    )
    killed = ["sweep"] if resumed else ["job", "sweep"]
    assert sorted(runs[runs["status"] == "KILLED"]["tags.role"]) == killed
    assert "[#0] skipped" in out.stdout
