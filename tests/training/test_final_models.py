"""Table 6: the three final experiments, callbacks as config, deep supervision, best epoch."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_cfg, tiny_cfg, tiny_splits

from unetexp.config.validation import validate
from unetexp.errors import ConfigError

EXPERIMENTS = {"unet_simple": 388_209, "unet_best": 339_713, "unet_deep": 388_307}


def test_the_ablation_defaults_have_no_callbacks_and_save_no_model():
    t = make_cfg().train
    assert not t.early_stopping.enabled and not t.reduce_lr.enabled and not t.save_model


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiments_follow_the_spec(name):
    cfg = make_cfg(f"+experiment={name}", "data=synthetic")
    validate(cfg)
    m, t = cfg.model, cfg.train
    assert (m.depth, m.convs, m.bottleneck, m.dropout) == (3, 2, 128, 0.3)
    assert (m.upsample, m.transpose_kernel) == (
        ("upsampling", 2) if name == "unet_best" else ("transpose", 3)
    )
    assert m.deep_supervision == (name == "unet_deep")
    assert (cfg.loss.name, cfg.loss.alpha) == ("bce_dice", 0.5)
    assert (t.epochs, t.batch_size, t.lr, t.optimizer) == (128, 8, 1e-3, "adam")
    assert t.save_model and t.early_stopping.enabled and t.reduce_lr.enabled
    assert t.early_stopping.restore_best_weights
    assert cfg.data.val_fraction == 0.1  # honest by default
    assert cfg.tracking.run_name == f"s0 {name}" and cfg.tracking.register_model == name
    es, rl = t.early_stopping, t.reduce_lr
    if name == "unet_deep":
        assert list(cfg.loss.head_weights) == [1.0, 0.5, 0.25]
        assert (es.monitor, es.patience, es.min_delta) == ("val_output1_loss", 15, 1e-4)
        assert (rl.monitor, rl.factor, rl.patience, rl.min_lr) == ("val_output1_loss", 0.5, 3, 1e-6)
    else:
        assert (es.monitor, es.patience, es.min_delta) == ("val_loss", 10, 1e-6)
        assert (rl.monitor, rl.factor, rl.patience, rl.min_lr) == ("val_loss", 0.5, 5, 0.0)


def test_the_study_protocol_switch_and_seed_interpolation():
    cfg = make_cfg("+experiment=unet_simple", "data.val_fraction=0", "seed=2")
    assert cfg.data.val_fraction == 0.0 and cfg.tracking.run_name == "s2 unet_simple"


@pytest.mark.parametrize(
    "overrides,message",
    [
        (
            ["train.early_stopping.enabled=true", "train.early_stopping.monitor=val_f1"],
            "train.early_stopping.monitor='val_f1' is invalid: must be one of val_loss",
        ),
        (
            ["train.reduce_lr.enabled=true", "train.reduce_lr.monitor=val_output1_loss"],
            "train.reduce_lr.monitor='val_output1_loss' is invalid",
        ),  # no such head without deep supervision
        (
            ["train.early_stopping.enabled=true", "train.early_stopping.patience=-1"],
            "train.early_stopping.patience=-1 is invalid: must be an integer in 0..",
        ),
        (
            ["train.reduce_lr.enabled=true", "train.reduce_lr.factor=1.5"],
            "train.reduce_lr.factor=1.5 is invalid: must be in (0, 1)",
        ),
        (
            ["train.reduce_lr.enabled=true", "train.reduce_lr.min_lr=-1"],
            "train.reduce_lr.min_lr=-1.0 is invalid",
        ),
        (
            ["train.early_stopping.enabled=true", "train.early_stopping.min_delta=-0.1"],
            "train.early_stopping.min_delta=-0.1 is invalid: must be >= 0",
        ),
        (
            [
                "model.deep_supervision=true",
                "model.depth=2",
                "train.reduce_lr.enabled=true",
                "train.reduce_lr.monitor=val_output3_loss",
            ],
            "train.reduce_lr.monitor='val_output3_loss' is invalid",
        ),  # depth 2 has no 1/4 head
        (
            ["loss.head_weights=[1,0.5]"],
            "loss.head_weights=[1.0, 0.5] is invalid: must be 3 weights",
        ),
        (["loss.head_weights=[0,0.5,0.25]"], "the first > 0"),
        (
            ["model.deep_supervision=true", "model.depth=1"],
            "model.deep_supervision=True is invalid: needs model.depth >= 2",
        ),
    ],
)
def test_new_keys_are_validated_in_one_line(overrides, message):
    with pytest.raises(ConfigError) as info:
        validate(make_cfg("data=synthetic", *overrides))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_deep_monitors_are_allowed_with_deep_supervision():
    validate(
        make_cfg(
            "+experiment=unet_deep", "data=synthetic", "train.reduce_lr.monitor=val_loss_total"
        )
    )


# ---------------------------------------------------------------- TensorFlow from here on


@pytest.fixture(scope="module")
def tf_train():
    from unetexp.training import fit as train

    return train


@pytest.mark.parametrize("name,expected", EXPERIMENTS.items())
def test_exact_parameter_counts_of_the_three_experiments(name, expected, tf_train):
    from unetexp.training.model import build_from_config, count_params

    model = build_from_config(make_cfg(f"+experiment={name}").model, (64, 64, 3))
    assert count_params(model) == expected
    assert [layer.name for layer in model.layers if "dropout" in layer.name] == [
        "dropout_enc",
        "dropout_b",
    ]
    assert len(model.outputs) == (3 if name == "unet_deep" else 1)


def test_callbacks_built_from_config(tf_train):
    from unetexp.training import callbacks

    keras = tf_train.keras
    assert callbacks.make_callbacks(make_cfg().train) == []  # the ablation tables: none
    es, rl = callbacks.make_callbacks(make_cfg("+experiment=unet_simple").train)
    assert isinstance(es, keras.callbacks.EarlyStopping) and isinstance(
        rl, keras.callbacks.ReduceLROnPlateau
    )
    assert (es.monitor, es.patience, es.restore_best_weights) == ("val_loss", 10, True)
    assert abs(es.min_delta) == pytest.approx(1e-6)
    assert (rl.monitor, rl.factor, rl.patience, rl.min_lr) == ("val_loss", 0.5, 5, 0.0)
    es, rl = callbacks.make_callbacks(make_cfg("+experiment=unet_deep").train, deep=True)
    assert (es.monitor, es.patience, abs(es.min_delta)) == (
        "val_output1_loss",
        15,
        pytest.approx(1e-4),
    )
    assert (rl.monitor, rl.factor, rl.patience, rl.min_lr) == ("val_output1_loss", 0.5, 3, 1e-6)


def test_flat_names_mean_the_full_resolution_head(tf_train):
    from unetexp.training import callbacks

    assert callbacks.keras_monitor("val_loss", deep=True) == "val_output1_loss"
    assert callbacks.keras_monitor("val_dice", deep=True) == "val_output1_dice"
    assert callbacks.keras_monitor("val_loss_total", deep=True) == "val_loss"
    assert callbacks.keras_monitor("val_output1_loss", deep=True) == "val_output1_loss"
    assert callbacks.keras_monitor("val_loss", deep=False) == "val_loss"
    logs = {
        "loss": 3.0,
        "output1_loss": 1.0,
        "output1_dice": 0.8,
        "output2_loss": 2.0,
        "val_loss": 4.0,
        "val_output1_loss": 1.5,
        "val_output3_iou": 0.3,
        "learning_rate": 1e-3,
    }
    assert callbacks.flat_metrics(logs, deep=True) == {
        "loss_total": 3.0,
        "loss": 1.0,
        "dice": 0.8,
        "output2_loss": 2.0,
        "val_loss_total": 4.0,
        "val_loss": 1.5,
        "val_output3_iou": 0.3,
    }
    assert callbacks.flat_metrics(
        {"loss": 1.0, "val_dice": 0.5, "learning_rate": 1e-3}, deep=False
    ) == {"loss": 1.0, "val_dice": 0.5}
    assert callbacks.epoch_metrics(logs, deep=True) == {  # MLflow's per-epoch names
        "train_loss_total": 3.0,
        "train_loss": 1.0,
        "train_dice": 0.8,
        "train_output2_loss": 2.0,
        "val_loss_total": 4.0,
        "val_loss": 1.5,
        "val_output3_iou": 0.3,
    }


def test_deep_supervision_targets_are_nearest_neighbour(tf_train):
    masks = np.zeros((2, 8, 8, 1), np.float32)
    masks[0, 1::2, 1::2] = 1.0  # only the pixels nearest-neighbour downsampling keeps
    full, half, quarter = tf_train.head_targets(masks, 3)
    assert full is masks and half.shape == (2, 4, 4, 1) and quarter.shape == (2, 2, 2, 1)
    assert set(np.unique(half)) <= {0.0, 1.0}  # no interpolated values
    np.testing.assert_array_equal(half[0], np.ones((4, 4, 1)))
    np.testing.assert_array_equal(half[1], np.zeros((4, 4, 1)))


def test_early_stopping_stops_and_restores_the_best_weights(tf_train):
    """3 epochs, patience 1; min_delta so large that no epoch after the first counts as better:
    training stops after epoch 2 and the model left is epoch 1's."""
    cfg = tiny_cfg(
        **{
            "train.epochs": 3,
            "train.early_stopping.enabled": True,
            "train.early_stopping.patience": 1,
            "train.early_stopping.min_delta": 10.0,
        }
    )
    splits = tiny_splits(cfg)
    seen = []
    result = tf_train.train_and_evaluate(cfg, splits, on_epoch=lambda e, m: seen.append(e))
    assert result.epochs_run == 2 and seen == [1, 2] and result.best_epoch == 1
    val_loss = result.history["val_loss"]
    assert val_loss[1] != pytest.approx(val_loss[0], abs=1e-6)  # the weights did change
    now = result.model.evaluate(splits.x_val, splits.y_val, verbose=0, return_dict=True)["loss"]
    assert now == pytest.approx(val_loss[0], abs=1e-5)  # epoch 1's weights are back


def test_reduce_lr_halves_the_learning_rate_on_a_plateau(tf_train):
    cfg = tiny_cfg(
        **{
            "train.epochs": 3,
            "train.reduce_lr.enabled": True,
            "train.reduce_lr.patience": 0,
            "train.reduce_lr.min_delta": 10.0,
        }
    )
    result = tf_train.train_and_evaluate(cfg, tiny_splits(cfg))
    # the lr each epoch used: reduced at the end of epoch 2, used by epoch 3
    assert result.history["lr"] == pytest.approx([1e-3, 1e-3, 5e-4])
    assert result.best_epoch == 1 + int(np.argmin(result.history["val_loss"]))


def test_deep_supervision_trains_three_weighted_heads(tf_train):
    cfg = tiny_cfg(
        **{
            "train.epochs": 1,
            "model.deep_supervision": True,
            "loss.name": "bce_dice",
            "model.dropout": 0.3,
        }
    )
    splits = tiny_splits(cfg)
    result = tf_train.train_and_evaluate(cfg, splits)
    assert [tuple(o.shape) for o in result.model.outputs] == [
        (None, 16, 16, 1),
        (None, 8, 8, 1),
        (None, 4, 4, 1),
    ]
    assert result.model.output_names == ["output1", "output2", "output3"]
    for key in (
        "train_loss",
        "val_loss",
        "train_dice",
        "val_dice",
        "train_loss_total",
        "val_loss_total",
        "train_output2_loss",
        "val_output3_dice",
        "lr",
    ):
        assert len(result.history[key]) == 1, key
    t = result.test
    # loss weights 1 / 0.5 / 0.25: the total is the weighted sum of the heads' losses
    assert t["test_loss_total"] == pytest.approx(
        t["test_loss"] + 0.5 * t["test_output2_loss"] + 0.25 * t["test_output3_loss"], rel=1e-4
    )
    # reported metrics are the full-resolution head's
    assert result.probabilities.shape == splits.y_test.shape
    assert 0.0 <= t["test_dice"] <= 1.0 and "test_object_f1" in t


def test_a_job_leaves_no_traced_graph_behind(tf_train):
    """fit.prepare_optimizer (keras_private): with stock Keras each job leaves its traced train step (and,
    for Adam, the graphs of its lazily built slots) alive after clear_session, and a
    sequential multirun grows job after job."""
    import gc

    from unetexp.training import runtime

    def graphs() -> int:
        gc.collect()
        runtime.release_memory()
        return sum(1 for o in gc.get_objects() if type(o).__name__ == "FuncGraph")

    cfg = tiny_cfg(**{"train.epochs": 1})
    before = graphs()
    for _ in range(2):
        tf_train.train_and_evaluate(cfg, tiny_splits(cfg))
    assert graphs() == before


def test_preparing_the_optimizer_changes_no_number(tf_train):
    cfg = tiny_cfg()
    splits = tiny_splits(cfg)
    runs = []
    for prepared in (False, True):
        tf_train.seed_everything(0, deterministic=True)
        model = tf_train.build_from_config(cfg.model, splits.x_train.shape[1:])
        tf_train.compile_model(model, cfg, deep=False)
        if prepared:
            tf_train.prepare_optimizer(model)
        history = model.fit(splits.x_train, splits.y_train, batch_size=4, epochs=2, verbose=0)
        runs.append((history.history["loss"], [w.tolist() for w in model.get_weights()]))
    assert runs[0] == runs[1]


@pytest.mark.parametrize(
    "overrides",
    [
        {"loss.name": "dice", "train.batch_size": 2},  # a batch Dice loss: Keras's batching matters
        {"loss.name": "bce_dice", "model.deep_supervision": True, "train.batch_size": 3},
    ],
)
def test_one_eager_pass_scores_as_evaluate_and_predicts_as_predict(overrides, tf_train):
    from unetexp.training.scoring import score

    cfg = tiny_cfg(**{"train.epochs": 1, "model.dropout": 0.3, **overrides})
    splits = tiny_splits(cfg)
    model = tf_train.train_and_evaluate(cfg, splits).model
    deep = len(model.outputs) > 1
    targets = tf_train.head_targets(splits.y_test, 3) if deep else [splits.y_test]
    batch = cfg.train.batch_size
    assert len(splits.x_test) % batch  # a last, smaller batch
    scores, probabilities = score(model, cfg, splits.x_test, targets, batch)
    expected = model.evaluate(
        splits.x_test,
        targets if deep else targets[0],
        batch_size=batch,
        verbose=0,
        return_dict=True,
    )
    heads = [f"output{k}_loss" for k in (1, 2, 3)] if deep else []
    assert scores.keys() == expected.keys()
    assert {k: v for k, v in scores.items() if k not in heads} == pytest.approx(
        {k: v for k, v in expected.items() if k not in heads}, rel=1e-5, abs=1e-6
    )
    if deep:  # Keras weights a traced batch of unknown size as 1 in its per-head loss means;
        # ours weight every batch by its size, as the total does: the total is their weighted sum
        assert scores["loss"] == pytest.approx(
            scores[heads[0]] + 0.5 * scores[heads[1]] + 0.25 * scores[heads[2]], rel=1e-6
        )
        assert [scores[h] for h in heads] == pytest.approx([expected[h] for h in heads], rel=0.02)
    predicted = model.predict(splits.x_test, batch_size=batch, verbose=0)
    np.testing.assert_allclose(probabilities, predicted[0] if deep else predicted, atol=1e-6)
