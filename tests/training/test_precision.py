"""`train.precision`: Keras's dtype policy per job, the heads kept in float32, recorded in the
config's identity only off its default."""

import numpy as np
import pytest
from conftest import make_cfg, tiny_cfg, tiny_splits

from unetexp.config.hashing import config_hash
from unetexp.config.validation import validate
from unetexp.errors import ConfigError


def test_a_mixed_job_computes_in_bfloat16_with_float32_heads_and_the_next_job_is_float32():
    from unetexp.training.fit import train_and_evaluate

    mixed = train_and_evaluate(
        tiny_cfg(**{"train.epochs": 1, "train.precision": "mixed_bfloat16"}),
        tiny_splits(tiny_cfg()),
    )
    convs = [layer for layer in mixed.model.layers if layer.name.startswith("c1")]
    assert {layer.compute_dtype for layer in convs} == {"bfloat16"}
    assert {layer.variable_dtype for layer in convs} == {"float32"}  # weights stay float32
    assert mixed.model.get_layer("output1").compute_dtype == "float32"
    assert mixed.probabilities.dtype == np.float32
    assert np.isfinite(list(mixed.test.values())).all()

    plain = train_and_evaluate(tiny_cfg(**{"train.epochs": 1}), tiny_splits(tiny_cfg()))
    assert {layer.compute_dtype for layer in plain.model.layers} == {"float32"}
    assert plain.n_params == mixed.n_params


def test_precision_is_a_configs_identity_off_its_default_and_checked():
    default = config_hash(make_cfg())
    assert config_hash(make_cfg("train.precision=float32")) == default
    assert config_hash(make_cfg("train.precision=mixed_float16")) != default
    with pytest.raises(ConfigError, match="train.precision"):
        validate(make_cfg("train.precision=float16"))
