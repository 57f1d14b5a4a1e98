"""What a job run is called and says about itself in MLflow: a name whose first characters
tell runs apart (the runs table cuts names short), and a description (`mlflow.note.content`)."""

from __future__ import annotations

from unetexp.config.schema import TrainConfig

# train keys whose non-default values a name shows, with their short labels
TRAIN_LABELS = {"epochs": "e", "batch_size": "bs", "lr": "lr", "optimizer": "", "augment": "aug-"}


def run_name(cfg) -> str:
    """`s0 d3 c1 transpose2 b128 bce`: the seed first, then the model, the loss, and the
    training settings that differ from the defaults (`e20`, `lr0.01`, `sgd`)."""
    m = cfg.model
    up = f"transpose{m.transpose_kernel}" if m.upsample == "transpose" else m.upsample
    words = [f"s{cfg.seed}", f"d{m.depth}", f"c{m.convs}", up, f"b{m.bottleneck}"]
    words += [f"drop{m.dropout:g}"] if m.dropout else []
    words += ["ds"] if m.deep_supervision else []
    alpha = (
        f"(a{cfg.loss.alpha:g})" if cfg.loss.name == "bce_dice" and cfg.loss.alpha != 0.5 else ""
    )
    words.append(f"{cfg.loss.name}{alpha}")
    defaults = TrainConfig()
    words += [
        train_word(cfg, key) for key in TRAIN_LABELS if cfg.train[key] != getattr(defaults, key)
    ]
    return " ".join(words)


def train_word(cfg, key: str) -> str:
    """`e20`, `bs16`, `lr0.01`, `sgd`, `aug-flip`: a train setting as a name shows it."""
    value = cfg.train[key]
    return (
        f"{TRAIN_LABELS[key]}{value:g}"
        if isinstance(value, (int, float))
        else f"{TRAIN_LABELS[key]}{value}"
    )


def job_name(cfg, overrides: list[str]) -> str:
    """The run's name: `tracking.run_name` when set (the final models: `s0 unet_best`), with
    the train settings the command line overrode (`s0 unet_best e2`: a 2-epoch smoke run does
    not pass for the model), else the derived `run_name`."""
    if not cfg.tracking.run_name:
        return run_name(cfg)
    keys = {o.split("=", 1)[0].lstrip("+~") for o in overrides}
    if "tracking.run_name" in keys:
        return cfg.tracking.run_name
    words = [train_word(cfg, key) for key in TRAIN_LABELS if f"train.{key}" in keys]
    return " ".join([cfg.tracking.run_name, *words])


UPSAMPLING = {"transpose": "Conv2DTranspose k{k}", "upsampling": "UpSampling2D"}


def run_description(
    cfg, source: str, sizes: dict[str, int], job_num: int | None, parent_run_id: str | None
) -> str:
    """A few lines (Markdown) that say what the run is, shown on its page in the MLflow UI."""
    m = cfg.model
    model = (
        f"U-Net depth {m.depth}, {m.convs} conv(s) per level, "
        f"{UPSAMPLING[m.upsample].format(k=m.transpose_kernel)}, bottleneck {m.bottleneck}"
        + (f", dropout {m.dropout:g}" if m.dropout else "")
        + (", deep supervision (metrics: full-resolution head)" if m.deep_supervision else "")
    )
    val = "a separate validation split" if cfg.data.val_fraction else "the test split as validation"
    lines = [
        f"**{model}**, loss {cfg.loss.name}, seed {cfg.seed}.",
        f"Trained up to {cfg.train.epochs} epochs ({cfg.train.optimizer}, lr {cfg.train.lr:g}, "
        f"batch {cfg.train.batch_size}) on {source}: {sizes['n_train']} train, "
        f"{sizes['n_val']} validation, {sizes['n_test']} test images ({val}).",
        "Metrics: `train_*` and `val_*` per epoch; `test_*` once, on the test split, at the end.",
    ]
    if cfg.train.save_model:
        lines.append(
            "The trained model is the MLflow model `model` of this run"
            + (
                f", registered as `{cfg.tracking.register_model}`."
                if cfg.tracking.register_model
                else "."
            )
        )
    if parent_run_id and job_num is not None:
        lines.append(f"Job {job_num + 1} of the sweep in parent run {parent_run_id}.")
    return "\n\n".join(lines)
