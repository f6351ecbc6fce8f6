import json
import math

import keras
import numpy as np
import pytest

from keras_recipes.callbacks import PerformanceScheduling
from keras_recipes.schedules import PowerDecay, ScaledSchedule
from tests.conftest import (
    KERAS_KEEPS_A_NAN_BEST,
    FeedMetric,
    KernelRecorder,
    ones,
    probe_model,
)

STEPS = 4  # steps per epoch in these tests


def run(optimizer, values, callback):
    model = probe_model(optimizer)
    x, y = ones(4 * STEPS)
    recorder = KernelRecorder()
    history = model.fit(
        x,
        y,
        batch_size=4,
        epochs=len(values),
        shuffle=False,
        verbose=0,
        callbacks=[FeedMetric(values), callback, recorder],
    )
    rates = np.diff(-np.array(recorder.kernels)[:, 0], prepend=0.0)
    return rates.reshape(len(values), STEPS), model, history


def test_reduces_float_learning_rate_after_patience():
    callback = PerformanceScheduling("score", factor=0.5, patience=2, mode="min")
    rates, model, history = run(
        keras.optimizers.SGD(0.1), [1.0, 1.0, 1.0, 1.0, 1.0, 1.0], callback
    )
    # Epochs 2 and 3 do not improve on 1.0: cut after epoch 3, and again after 5.
    np.testing.assert_allclose(
        rates[:, 0], [0.1, 0.1, 0.1, 0.05, 0.05, 0.025], rtol=1e-5
    )
    np.testing.assert_allclose(
        history.history["learning_rate"], [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
    )
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.025)
    assert callback.scale == pytest.approx(0.25)


def test_scales_an_optimizer_schedule_where_keras_raises():
    values = [1.0, 2.0, 2.0, 2.0]
    keras_callback = keras.callbacks.ReduceLROnPlateau("score", patience=1, mode="min")
    with pytest.raises(TypeError):
        run(keras.optimizers.SGD(PowerDecay(0.1, 4)), values, keras_callback)

    callback = PerformanceScheduling("score", factor=0.5, patience=1, mode="min")
    rates, model, _ = run(keras.optimizers.SGD(PowerDecay(0.1, 4)), values, callback)
    steps = np.arange(16).reshape(4, 4)
    base = 0.1 / (1 + steps / 4)
    # Reductions after epochs 1, 2, 3 (index): factors 1, 1, 0.5, 0.25.
    expected = base * np.array([[1.0], [1.0], [0.5], [0.25]])
    np.testing.assert_allclose(rates, expected, rtol=1e-4)
    schedule = model.optimizer._learning_rate
    assert isinstance(schedule, ScaledSchedule)
    assert isinstance(schedule.schedule, PowerDecay)  # not nested twice
    assert schedule.factor == pytest.approx(0.125)


def test_model_keeps_the_reduction_through_save_and_load(tmp_path):
    callback = PerformanceScheduling("score", factor=0.5, patience=1, mode="min")
    _, model, _ = run(keras.optimizers.SGD(PowerDecay(0.1, 4)), [1.0, 2.0], callback)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert float(loaded.optimizer.learning_rate) == pytest.approx(
        0.5 * 0.1 / (1 + 8 / 4), rel=1e-5
    )


def test_nan_is_never_an_improvement():
    callback = PerformanceScheduling("score", factor=0.5, patience=1, mode="min")
    rates, _, _ = run(keras.optimizers.SGD(0.1), [math.nan, 0.5, 0.4, 0.3], callback)
    # NaN first: one non-improving epoch -> one cut; then steady improvement.
    np.testing.assert_allclose(rates[:, 0], [0.1, 0.05, 0.05, 0.05], rtol=1e-5)
    assert callback.best == pytest.approx(0.3)

    keras_callback = keras.callbacks.ReduceLROnPlateau(
        "score", factor=0.5, patience=1, mode="min"
    )
    rates, _, _ = run(
        keras.optimizers.SGD(0.1), [math.nan, 0.5, 0.4, 0.3], keras_callback
    )
    if KERAS_KEEPS_A_NAN_BEST:
        assert rates[-1, 0] < 0.05 / 2  # Keras keeps cutting: best stays NaN.
    else:
        np.testing.assert_allclose(rates[:, 0], [0.1, 0.05, 0.05, 0.05], rtol=1e-5)


def test_min_learning_rate_and_cooldown():
    callback = PerformanceScheduling(
        "score", factor=0.1, patience=1, cooldown=1, min_learning_rate=0.005, mode="min"
    )
    rates, _, _ = run(keras.optimizers.SGD(0.1), [1.0] * 6, callback)
    # Cut after epoch 1 (index), cooldown epoch 2, cut after 3 down to the floor.
    np.testing.assert_allclose(
        rates[:, 0], [0.1, 0.1, 0.01, 0.01, 0.005, 0.005], rtol=1e-5
    )


def test_state_survives_through_state_dict():
    first = PerformanceScheduling("score", factor=0.5, patience=3, mode="min")
    run(keras.optimizers.SGD(0.1), [1.0, 2.0], first)
    state = json.loads(json.dumps(first.state_dict()))
    assert state == {"best": 1.0, "wait": 1, "cooldown_counter": 0, "scale": 1.0}

    second = PerformanceScheduling("score", factor=0.5, patience=3, mode="min")
    second.load_state_dict(state)
    rates, _, _ = run(keras.optimizers.SGD(0.1), [2.0, 2.0, 2.0], second)
    # Two more bad epochs complete the patience of 3: cut after the 2nd.
    np.testing.assert_allclose(rates[:, 0], [0.1, 0.1, 0.05], rtol=1e-5)


def test_mode_auto_is_decided_at_the_first_epoch_end():
    # "score" is no loss, no compiled metric and ends in no known word.
    callback = PerformanceScheduling("score", patience=1)
    with pytest.raises(ValueError, match=r"mode='auto' cannot tell whether `score`"):
        run(keras.optimizers.SGD(0.1), [1.0], callback)


def test_unknown_monitor_lists_available_keys():
    callback = PerformanceScheduling("val_los", mode="min")
    with pytest.raises(ValueError, match=r"monitors `val_los`.*Available keys: loss"):
        run(keras.optimizers.SGD(0.1), [1.0], callback)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            {"factor": 1.0},
            ValueError,
            r"`factor` must be > 0 and < 1. Received: factor=1.0",
        ),
        ({"factor": 0}, ValueError, r"`factor` must be > 0 and < 1"),
        ({"patience": -1}, ValueError, r"`patience` must be >= 0. Received: patien"),
        ({"cooldown": -1}, ValueError, r"`cooldown` must be >= 0"),
        ({"min_learning_rate": -1}, ValueError, r"`min_learning_rate` must be >= 0"),
        ({"min_delta": -0.1}, ValueError, r"`min_delta` must be >= 0"),
        ({"mode": "up"}, ValueError, r"`mode` must be one of 'auto', 'min', 'max'"),
        ({"monitor": 3}, TypeError, r"`monitor` must be a string. Received: monitor=3"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        PerformanceScheduling(**kwargs)
