"""The study's U-Net family, one builder for every model (docs/study.md, "The model family").

Level i (1 = full resolution) has bottleneck / 2**(depth - i + 1) filters. Encoder level:
`convs` x Conv2D 3x3 ReLU, kept as skip, MaxPooling2D. Bottleneck: ONE Conv2D. Decoder level:
upsample (Conv2DTranspose to f filters, or UpSampling2D), concatenate the skip, `convs` x
Conv2D. Head: Conv2D(1, 1, sigmoid). Layer names follow the study's notebook (c1, c1_2, p1,
b, u3, u3b, cd3, output1).
"""

from __future__ import annotations

import keras
from keras import layers


def level_filters(depth: int, bottleneck: int) -> list[int]:
    """Filters per level, full resolution first: depth 3, bottleneck 128 -> [16, 32, 64]."""
    return [bottleneck // 2 ** (depth - i + 1) for i in range(1, depth + 1)]


def _conv_block(x, filters: int, convs: int, prefix: str):
    for j in range(convs):
        name = prefix if j == 0 else f"{prefix}_{j + 1}"
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=name)(x)
    return x


def build_unet(
    input_shape: tuple[int, int, int] = (64, 64, 3),
    depth: int = 3,
    convs: int = 1,
    upsample: str = "transpose",
    transpose_kernel: int = 2,
    bottleneck: int = 128,
    dropout: float = 0.0,
    deep_supervision: bool = False,
) -> keras.Model:
    """Build one member of the family. Deep supervision adds 1x1 sigmoid heads `output2`
    (1/2 resolution) and `output3` (1/4) on the decoder outputs that exist at this depth."""
    filters = level_filters(depth, bottleneck)
    inputs = keras.Input(shape=input_shape, name="input")
    x, skips = inputs, []
    for level, f in enumerate(filters, start=1):
        x = _conv_block(x, f, convs, f"c{level}")
        if dropout > 0 and level == depth:
            x = layers.Dropout(dropout, name="dropout_enc")(x)
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"p{level}")(x)
    x = layers.Conv2D(bottleneck, 3, padding="same", activation="relu", name="b")(x)
    if dropout > 0:
        x = layers.Dropout(dropout, name="dropout_b")(x)
    side_outputs = {}
    for level in range(depth, 0, -1):
        f = filters[level - 1]
        if upsample == "transpose":
            x = layers.Conv2DTranspose(
                f, transpose_kernel, strides=2, padding="same", name=f"u{level}"
            )(x)
        else:
            x = layers.UpSampling2D(2, name=f"u{level}")(x)
        x = layers.Concatenate(name=f"u{level}b")([x, skips[level - 1]])
        x = _conv_block(x, f, convs, f"cd{level}")
        if deep_supervision and level in (2, 3):
            side_outputs[level] = layers.Conv2D(
                1, 1, activation="sigmoid", dtype="float32", name=f"output{level}"
            )(x)
    # the heads compute in float32 whatever train.precision: a sigmoid and its loss in
    # float16 lose the small probabilities (Keras's mixed-precision guide)
    outputs = layers.Conv2D(1, 1, activation="sigmoid", dtype="float32", name="output1")(x)
    if side_outputs:
        outputs = [outputs] + [side_outputs[level] for level in sorted(side_outputs)]
    return keras.Model(inputs, outputs, name=f"unet_d{depth}_c{convs}_{upsample}_b{bottleneck}")


def build_from_config(model_cfg, input_shape: tuple[int, ...]) -> keras.Model:
    """The builder called with the `model` config group (input_shape: the images' H, W, C)."""
    height, width, channels = input_shape
    return build_unet(
        input_shape=(height, width, channels),
        depth=model_cfg.depth,
        convs=model_cfg.convs,
        upsample=model_cfg.upsample,
        transpose_kernel=model_cfg.transpose_kernel,
        bottleneck=model_cfg.bottleneck,
        dropout=model_cfg.dropout,
        deep_supervision=model_cfg.deep_supervision,
    )


def inference_model(model: keras.Model) -> keras.Model:
    """The full-resolution head alone, without training state: what predict and MLflow
    serving use (a deep-supervision model's side heads are training aids)."""
    return keras.Model(model.inputs, model.outputs[0], name=model.name)


def count_params(model: keras.Model) -> int:
    """Trainable parameters, as the study's tables count them."""
    return int(sum(keras.ops.size(w) for w in model.trainable_weights))
