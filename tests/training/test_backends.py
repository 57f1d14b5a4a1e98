"""`train.backend`: the same models on every Keras backend installed, the same deep-supervision
targets, the key in a config's identity only off its default, and a sweep that mixes
backends refused in one line before anything trains."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.util import find_spec

import numpy as np
import pytest
from conftest import make_cfg, run_cli
from test_model import SPEC_COUNTS

from unetexp.config.hashing import config_hash
from unetexp.config.validation import validate
from unetexp.errors import ConfigError

NEEDS_JAX = pytest.mark.skipif(find_spec("jax") is None, reason="jax is not installed")
BACKENDS = [
    "tensorflow",
    pytest.param("jax", marks=NEEDS_JAX),
    pytest.param(
        "torch",
        marks=pytest.mark.skipif(
            find_spec("torch") is None,
            reason="torch is not installed (its CUDA build is several GB: tested on the GPU machine)",
        ),
    ),
]
COUNTS = """
import json, sys
from unetexp.training.model import build_unet, count_params
import keras
specs = json.loads(sys.argv[1])
# 32x32: a U-Net's count does not depend on the image side (depth 5 needs a multiple of 32),
# and JAX traces every layer's shapes at a fraction of the 64x64 cost
print(json.dumps([keras.backend.backend(), [count_params(build_unet((32, 32, 3), *s)) for s in specs]]))
"""


# one model per kind of layer and option the study varies (test_model checks all twelve on
# TensorFlow): depth 1 with one conv and transposed convolutions; nearest upsampling with a
# 64-filter bottleneck at depth 3; kernel 3, dropout and deep supervision (unet_deep). JAX
# infers every layer's shapes anew for each model, about 10 s a model on CI's cores.
EVERY_KIND = [SPEC_COUNTS[0], SPEC_COUNTS[8], SPEC_COUNTS[11]]


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_kind_of_model_of_the_study_has_its_parameter_count_on_each_backend(backend):
    """A fresh process per backend: Keras picks its backend once, at import."""
    assert {spec[2] for spec, _ in EVERY_KIND} == {"transpose", "upsampling"}
    specs = [list(spec) for spec, _ in EVERY_KIND]
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, "-c", COUNTS, json.dumps(specs)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    ran_on, counts = json.loads(out.stdout.strip().splitlines()[-1])
    assert ran_on == backend
    assert counts == [expected for _, expected in EVERY_KIND]


def test_deep_supervision_targets_are_tensorflows_nearest_resize():
    """The numpy pick (every backend) equals `tf.image.resize(method="nearest")` (the study's)."""
    import tensorflow as tf

    from unetexp.training.fit import head_targets

    masks = np.random.default_rng(0).integers(0, 2, (3, 64, 32, 1)).astype("float32")
    full, half, quarter = head_targets(masks, 3)
    assert full is masks
    for target, side in ((half, 2), (quarter, 4)):
        resized = tf.image.resize(masks, (64 // side, 32 // side), method="nearest")
        np.testing.assert_array_equal(target, np.asarray(resized))


@NEEDS_JAX
def test_the_backend_is_part_of_a_configs_identity_only_off_its_default():
    """Runs logged before the key keep their hash (test_config pins them); another backend gives
    other numbers for one seed, so it is another config."""
    default = config_hash(make_cfg())
    assert config_hash(make_cfg("train.backend=tensorflow")) == default
    assert config_hash(make_cfg("train.backend=jax")) != default


@pytest.mark.skipif(find_spec("torch") is not None, reason="torch is installed here")
def test_a_backend_that_is_not_installed_is_refused_by_name():
    with pytest.raises(ConfigError) as caught:
        validate(make_cfg("train.backend=torch"))
    assert str(caught.value) == (
        "train.backend='torch' is invalid: torch is not installed in this environment "
        "(pip install torch)"
    )


@NEEDS_JAX
def test_a_sweep_mixing_backends_stops_in_one_line_before_anything_trains(tmp_path):
    store = tmp_path / "mlruns" / "mlflow.db"
    out = run_cli(
        "-m",
        "train.backend=tensorflow,jax",
        "data=synthetic",
        "data.count=24",
        "data.size=16",
        "train.epochs=1",
        f"tracking.uri=sqlite:///{store}",
        cwd=tmp_path,
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "unetexp: error: train.backend: this sweep mixes tensorflow, jax: Keras runs one backend "
        "per process, and every launcher reuses its processes; sweep one backend per command"
    ]
    assert not store.exists()  # no MLflow run, no store
