"""Each diagnosis step on a case built to pass it and one built to fail it."""

import math

import keras
import numpy as np
import pytest

import keras_recipes as kr
from keras_recipes import diagnose as dg


def blobs(n=256, classes=10, features=16, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(classes, features))
    y = rng.integers(0, classes, n).astype("int32")
    x = (centers[y] + rng.normal(size=(n, features))).astype("float32")
    return (x - x.mean(0)) / x.std(0), y


def compiled(model, learning_rate=1e-2):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def test_initial_loss_matches_log_classes():
    x, y = blobs()
    result = dg.check_initial_loss(compiled(kr.build_mlp((16,), 10)), x, y)
    assert result.ok and result.details["expected"] == pytest.approx(math.log(10))


def test_wrong_label_count_fails_step_1():
    x, y = blobs()
    result = dg.check_initial_loss(compiled(kr.build_mlp((16,), 50)), x, y)
    assert not result.ok
    assert "has 50 units but the labels have 10 classes" in result.message


def test_a_healthy_model_overfits_a_small_sample():
    x, y = blobs()
    result = dg.check_overfit(compiled(kr.build_mlp((16,), 10)), x, y)
    assert result.ok and result.details["accuracy"] >= 0.99


def test_a_model_too_small_to_overfit_fails_step_2():
    x, y = blobs()
    tiny = compiled(kr.build_mlp((16,), 10, hidden_layers=1, units=1))
    result = dg.check_overfit(tiny, x, y, max_epochs=60)
    assert not result.ok and "too small or broken" in result.message


def test_copy_model_leaves_the_original_untouched():
    x, y = blobs()
    model = compiled(kr.build_mlp((16,), 10))
    before = [w.copy() for w in model.get_weights()]
    clone = dg.copy_model(model, learning_rate=0.5, weight_decay=1e-3)
    clone.fit(x, y, epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert float(clone.optimizer.learning_rate.numpy()) == pytest.approx(0.5)
    assert clone.optimizer.weight_decay == pytest.approx(1e-3)


def test_copy_model_under_mixed_precision_sets_the_inner_rate():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = compiled(kr.build_mlp((16,), 10))
        clone = dg.copy_model(model, learning_rate=0.5)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert isinstance(clone.optimizer, keras.optimizers.LossScaleOptimizer)
    inner = clone.optimizer.inner_optimizer
    assert isinstance(inner, keras.optimizers.Adam)
    assert float(inner.learning_rate.numpy()) == pytest.approx(0.5)


def test_a_multi_output_model_is_refused_with_the_way_out():
    inputs = keras.Input((16,))
    model = keras.Model(
        inputs,
        {"a": keras.layers.Dense(10)(inputs), "b": keras.layers.Dense(1)(inputs)},
    )
    model.compile("adam", loss={"a": "mse", "b": "mse"})
    x, y = blobs()
    with pytest.raises(ValueError, match=r"one output; this one has 2 .*each head"):
        dg.diagnose(model, x, {"a": y, "b": y}, (x, {"a": y, "b": y}), verbose=0)


@pytest.mark.parametrize(
    "train, val, verdict",
    [
        (
            [2.0, 1.0, 0.5, 0.3, 0.2, 0.1, 0.05],
            [2.0, 1.1, 0.8, 0.9, 1.1, 1.3, 1.5],
            "over-fitting",
        ),
        (
            [2.3, 2.2, 2.15, 2.1, 2.1, 2.05],
            [2.3, 2.2, 2.2, 2.1, 2.1, 2.1],
            "under-fitting",
        ),
        ([2.0, 1.0, 0.6, 0.4, 0.3, 0.25], [2.0, 1.1, 0.7, 0.5, 0.4, 0.35], "healthy"),
        # `diagnose --smoke` on digits: train 0.06 against validation
        # 0.24-0.29; a trailing mean of 3 hid the gap ("healthy").
        ([1.2, 0.35, 0.06], [0.29, 0.26, 0.24], "over-fitting"),
        ([2.0, 0.5, 0.2, 0.1, 0.06], [1.0, 0.35, 0.27, 0.25, 0.24], "over-fitting"),
    ],
)
def test_learning_curve_verdicts(train, val, verdict):
    assert dg.learning_curve_verdict(train, val)[0] == verdict


@pytest.mark.slow
def test_diagnose_end_to_end_writes_a_report(tmp_path, capsys):
    x, y = blobs(512)
    x_val, y_val = blobs(128, seed=1)
    model = compiled(kr.build_mlp((16,), 10, hidden_layers=2, units=32))
    weights = [w.copy() for w in model.get_weights()]
    diagnosis = dg.diagnose(
        model,
        x,
        y,
        (x_val, y_val),
        output_dir=tmp_path,
        search_epochs=1,
        final_epochs=4,
        overfit_epochs=100,
    )
    out = capsys.readouterr().out
    for number in range(1, 6):
        assert f"{number}/5" in out
    assert [s.name for s in diagnosis.steps] == [
        "initial_loss",
        "overfit",
        "lr_finder",
        "search",
        "learning_curves",
    ]
    assert diagnosis.step("initial_loss").ok and diagnosis.step("overfit").ok
    assert len(diagnosis.step("search").details["trials"]) == 14
    assert diagnosis.best_learning_rate > 0
    assert diagnosis.verdict in ("healthy", "under-fitting", "over-fitting")
    report = (tmp_path / "report.md").read_text()
    assert "initial_loss** — PASS" in report and "learning_curves.png" in report
    for png in ("lr_finder.png", "learning_curves.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
    for a, b in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # the model itself is not trained


@pytest.mark.slow
def test_regressor_steps_1_and_2():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype("float32")
    y = (x @ rng.normal(size=8) + 3.0).astype("float32")[:, None]
    model = kr.build_mlp((8,), 1, units=64, output_activation=None)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    first = dg.check_initial_loss(model, x, y)
    assert first.ok and first.details["mean_predictor_loss"] == pytest.approx(
        float(np.var(y)), rel=1e-6
    )
    assert "predicting the mean" in first.message
    second = dg.check_overfit(model, x, y, max_epochs=300)
    assert second.ok and second.details["loss"] <= 0.01 * second.details["initial_loss"]


def test_overfit_step_fails_cleanly_on_a_nan_regressor():
    # A non-finite initial loss: the step fails (it does not raise) at once.
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(
                1, kernel_initializer=keras.initializers.Constant(math.nan)
            ),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((16, 4), "float32")
    result = dg.check_overfit(model, x, np.ones(16, "float32"), max_epochs=20)
    assert not result.ok and result.details["epochs"] == 1


def test_the_gap_verdict_names_its_figures():
    verdict, remedy = dg.learning_curve_verdict([1.2, 0.35, 0.06], [0.29, 0.26, 0.24])
    assert verdict == "over-fitting"
    assert "validation loss 0.24 is 4.0x the training loss 0.06" in remedy


@pytest.mark.slow
def test_unscaled_regression_targets_fail_a_step_and_the_verdict():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 4)).astype("float32")
    y = (5000 + 1000 * x @ rng.normal(size=4)).astype("float32")[:, None]
    model = kr.build_mlp((4,), 1, units=16, output_activation=None)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    scale = dg.check_target_scale(model, y)
    assert not scale.ok and "standardize them (y - mean) / std" in scale.message
    assert dg.check_target_scale(model, (y - y.mean()) / y.std()).ok
    assert dg.check_target_scale(compiled(kr.build_mlp((4,), 3)), np.zeros(8)) is None
    diagnosis = dg.diagnose(
        model,
        x,
        y,
        (x, y),
        search_epochs=1,
        final_epochs=2,
        overfit_epochs=5,
        verbose=0,
    )
    assert diagnosis.steps[0].name == "target_scale" and not diagnosis.steps[0].ok
    assert diagnosis.verdict != "healthy"
    assert all(
        v is None or v > 0
        for v in diagnosis.step("lr_finder").details["suggestions"].values()
    )
