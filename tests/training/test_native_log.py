"""TensorFlow's C++ log lines kept to TF_CPP_MIN_LOG_LEVEL (training/native_log.py): CI's
machine (a CUDA driver, no GPU) wrote its cuInit line past TensorFlow's own filter, before the
one-line errors."""

import os
import subprocess
import sys

import pytest

from unetexp.training.native_log import shown

CUINIT = (
    b"E0000 00:00:1796171565.574519    6513 cuda_platform.cc:52] failed call to cuInit: "
    b"INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n"
)
NODE_DEF = b"E0000 00:00:1796172300.738281    9118 node_def_util.cc:682] NodeDef mentions ...\n"
FATAL = b"F0000 00:00:1796172300.738281    9118 tensor.cc:12] Check failed: a == b\n"
INFO = b"I0000 00:00:1796172690.184394   12097 cudart_stub.cc:31] Could not find cuda drivers\n"
PRE_INIT = (
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
)


@pytest.mark.parametrize(
    ("line", "levels_shown"),
    [
        (INFO, {0}),
        (PRE_INIT, {0, 1}),
        (CUINIT, {0, 1, 2}),
        (FATAL, {0, 1, 2, 3}),
        (b"unetexp: error: data.count: must be > 0\n", {0, 1, 2, 3}),
        (b"Epoch 1/3 E0000 00:00:17.5 1 a.cc:1] inside a line\n", {0, 1, 2, 3}),
    ],
)
def test_a_native_line_is_shown_at_or_above_the_level_only(line, levels_shown):
    assert {level for level in range(4) if shown(line, level)} == levels_shown


def write_through_filter(level: str | None, script: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    if level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = level
    lines = {"CUINIT": CUINIT, "NODE_DEF": NODE_DEF, "INFO": INFO, "FATAL": FATAL}
    prelude = "import os, sys\n" + "".join(f"{k} = {v!r}\n" for k, v in lines.items())
    return subprocess.run(
        [sys.executable, "-c", prelude + script], env=env, capture_output=True, timeout=300
    )


@pytest.mark.slow
def test_after_the_real_tensorflow_import_a_one_line_error_is_the_only_line():
    """The runtime's TensorFlow import (the job's and predict's) installs the filter: native
    lines written to fd 2 by C++ vanish, the error line and a partial line stay, in order."""
    out = write_through_filter(
        None,
        "from unetexp.training import runtime\n"
        "import tensorflow as tf\n"
        "tf.constant(1)\n"
        "os.write(2, CUINIT); os.write(2, NODE_DEF); os.write(2, INFO)\n"
        "sys.stderr.write('progress 1/2'); sys.stderr.flush()\n"
        "os.write(2, b'\\n')\n"
        "sys.exit('unetexp: error: run abc FAILED: cannot write to the MLflow store')\n",
    )
    assert out.returncode == 1
    assert out.stderr.decode() == (
        "progress 1/2\nunetexp: error: run abc FAILED: cannot write to the MLflow store\n"
    )


def test_a_traceback_and_a_fatal_line_survive_the_exit_and_level_0_filters_nothing():
    from_filter = write_through_filter(
        "3",
        "from unetexp.training.native_log import filter_native_logs\n"
        "filter_native_logs()\n"
        "os.write(2, CUINIT); os.write(2, FATAL)\n"
        "raise RuntimeError('last words')\n",
    )
    assert from_filter.stderr.startswith(FATAL + b"Traceback (most recent call last):")
    assert from_filter.stderr.endswith(b"RuntimeError: last words\n")
    assert CUINIT not in from_filter.stderr
    everything = write_through_filter(
        "0",
        "from unetexp.training.native_log import filter_native_logs\n"
        "filter_native_logs()\n"
        "os.write(2, INFO + CUINIT)\n",
    )
    assert everything.stderr == INFO + CUINIT
