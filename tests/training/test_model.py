"""The builder reproduces every parameter count of the study (docs/study.md, "The model
family")."""

from __future__ import annotations

import pytest

from unetexp.training.model import build_unet, count_params, level_filters
from unetexp.training.runtime import import_tensorflow_quietly  # noqa: F401  (quiet TF import first)

SPEC_COUNTS = [
    # depth, convs, upsample, kernel, bottleneck, dropout, deep supervision -> params
    ((1, 1, "transpose", 2, 128, 0.0, False), 182_337),
    ((2, 1, "transpose", 2, 128, 0.0, False), 226_593),
    ((3, 1, "transpose", 2, 128, 0.0, False), 237_457),
    ((4, 1, "transpose", 2, 128, 0.0, False), 240_073),
    ((5, 1, "transpose", 2, 128, 0.0, False), 240_677),
    ((3, 2, "transpose", 2, 128, 0.0, False), 334_449),
    ((3, 3, "transpose", 2, 128, 0.0, False), 431_441),
    ((3, 2, "upsampling", 2, 128, 0.0, False), 339_713),
    ((3, 2, "upsampling", 2, 64, 0.0, False), 85_185),
    ((3, 2, "upsampling", 2, 256, 0.0, False), 1_356_801),
    ((3, 2, "transpose", 3, 128, 0.3, False), 388_209),  # unet_simple
    ((3, 2, "transpose", 3, 128, 0.3, True), 388_307),  # unet_deep
]


@pytest.mark.parametrize("args,expected", SPEC_COUNTS, ids=[str(a) for a, _ in SPEC_COUNTS])
def test_parameter_counts_match_the_study(args, expected):
    depth, convs, upsample, kernel, bottleneck, dropout, deep = args
    model = build_unet((64, 64, 3), depth, convs, upsample, kernel, bottleneck, dropout, deep)
    assert count_params(model) == expected


def test_level_filters():
    assert level_filters(3, 128) == [16, 32, 64]
    assert level_filters(1, 128) == [64]
    assert level_filters(5, 128) == [4, 8, 16, 32, 64]


def test_layers_follow_the_notebook_names_and_shapes():
    model = build_unet((64, 64, 3), depth=3, convs=2, transpose_kernel=3, dropout=0.3)
    names = [layer.name for layer in model.layers]
    for name in (
        "c1",
        "c1_2",
        "p1",
        "c3_2",
        "dropout_enc",
        "p3",
        "b",
        "dropout_b",
        "u3",
        "u3b",
        "cd3",
        "cd3_2",
        "cd1_2",
        "output1",
    ):
        assert name in names
    assert model.get_layer("b").output.shape == (None, 8, 8, 128)
    assert model.get_layer("u3b").output.shape == (None, 16, 16, 128)
    assert model.output.shape == (None, 64, 64, 1)
    # the skip of the last encoder level carries the dropped tensor
    assert model.get_layer("u3b").input[1].name == model.get_layer("dropout_enc").output.name


def test_deep_supervision_heads():
    model = build_unet((64, 64, 3), depth=3, convs=2, transpose_kernel=3, deep_supervision=True)
    assert [o.shape for o in model.outputs] == [
        (None, 64, 64, 1),
        (None, 32, 32, 1),
        (None, 16, 16, 1),
    ]
    assert [model.get_layer(f"output{i}").count_params() for i in (1, 2, 3)] == [17, 33, 65]


def test_other_input_sizes():
    assert build_unet((128, 96, 3), depth=4).output.shape == (None, 128, 96, 1)
