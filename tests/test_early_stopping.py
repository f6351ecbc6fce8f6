import json
import math

import keras
import numpy as np
import pytest

import keras_recipes as kr
from tests.conftest import FeedMetric, ones, probe_model


def fit(values, stopper, epochs=None, key="score"):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    y = np.ones((16, 2), "float32")
    weights = {}

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            weights[epoch + 1] = [w.numpy().copy() for w in self.model.weights]

    history = model.fit(
        x, y, epochs=epochs or len(values), verbose=0,
        callbacks=[FeedMetric(values, key), Snapshot(), stopper],
    )  # fmt: skip
    return model, weights, len(history.history["loss"])


def assert_weights(model, expected):
    for a, b in zip(model.weights, expected, strict=True):
        np.testing.assert_array_equal(a.numpy(), b)


def test_nan_first_is_never_best():
    stopper = kr.EarlyStopping("score", mode="min", patience=2, check_finite=False)
    model, weights, ran = fit([math.nan, 0.5, 0.4, 0.3], stopper)
    assert ran == 4 and stopper.stopped_reason is None
    assert stopper.best == 0.3 and stopper.best_epoch == 4

    keras_stopper = keras.callbacks.EarlyStopping("score", mode="min", patience=2)
    _, _, keras_ran = fit([math.nan, 0.5, 0.4, 0.3], keras_stopper)
    assert keras_ran < 4  # Keras stops early with best = NaN


def test_patience_and_best_weights_restored():
    stopper = kr.EarlyStopping("score", mode="min", patience=2)
    model, weights, ran = fit([0.5, 0.3, 0.4, 0.35, 0.1, 0.1], stopper)
    assert ran == 4 and stopper.stopped_reason == "patience"
    assert stopper.stopped_epoch == 4 and stopper.best_epoch == 2
    assert_weights(model, weights[2])


def test_non_finite_stops_at_once_and_still_restores_the_best():
    stopper = kr.EarlyStopping("score", mode="min", patience=5)
    model, weights, ran = fit([0.5, 0.3, math.nan, 0.1], stopper)
    assert ran == 3 and stopper.stopped_reason == "non-finite"
    assert_weights(model, weights[2])


@pytest.mark.parametrize(
    "kwargs, values, reason, ran",
    [
        ({"stopping_threshold": 0.2}, [0.5, 0.3, 0.2, 0.1], "threshold", 3),
        ({"divergence_threshold": 1.0}, [0.5, 0.3, 1.5, 0.1], "divergence", 3),
        ({"baseline": 0.25, "patience": 3}, [0.5, 0.4, 0.3, 0.1, 0.1], "patience", 3),
    ],
)
def test_other_reasons(kwargs, values, reason, ran):
    stopper = kr.EarlyStopping("score", mode="min", **kwargs)
    _, _, epochs_run = fit(values, stopper)
    assert stopper.stopped_reason == reason and epochs_run == ran


def test_start_from_epoch_ignores_warm_up():
    stopper = kr.EarlyStopping("score", mode="min", patience=1, start_from_epoch=2)
    _, _, ran = fit([0.1, 0.5, 0.4, 0.3, 0.35], stopper)
    assert ran == 5 and stopper.best == 0.3  # epochs 1-2 not watched


def test_max_mode_from_name():
    # mode="auto" on a name no compiled metric has: by its last word.
    stopper = kr.EarlyStopping("val_top_accuracy", patience=1)
    _, _, ran = fit([0.5, 0.6, 0.7], stopper, key="val_top_accuracy")
    assert ran == 3 and stopper.best == 0.7 and stopper.mode == "auto"


def test_state_round_trip_continues_the_count():
    first = kr.EarlyStopping("score", mode="min", patience=3)
    fit([0.5, 0.6], first)
    state = json.loads(json.dumps(first.state_dict()))
    assert state["wait"] == 1 and state["best"] == 0.5
    second = kr.EarlyStopping("score", mode="min", patience=3)
    second.load_state_dict(state)
    second.load_array_state(first.array_state())
    _, _, ran = fit([0.7, 0.7, 0.1], second)
    assert ran == 2 and second.stopped_reason == "patience"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"patience": -1}, r"`patience` must be >= 0. Received: patience=-1"),
        ({"start_from_epoch": -1}, r"`start_from_epoch` must be >= 0"),
        ({"min_delta": -1}, r"`min_delta` must be >= 0"),
        ({"baseline": math.nan}, r"`baseline` must be finite"),
        ({"mode": "lowest"}, r"`mode` must be one of 'auto', 'min', 'max'"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        kr.EarlyStopping(**kwargs)


class PoisonFrom(keras.utils.PyDataset):
    """Ones, and NaN inputs once `poisoned` is set (by `Poison` at an epoch's
    end): the gradients turn NaN, and with them Adam's slots."""

    def __init__(self):
        super().__init__()
        self.poisoned = False

    def __len__(self):
        return 4

    def __getitem__(self, index):
        x, y = ones(8)
        return (x * np.nan if self.poisoned else x), y


class Poison(keras.callbacks.Callback):
    def __init__(self, data, after):
        super().__init__()
        self.data, self.after = data, after

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.after:
            self.data.poisoned = True


def test_after_a_nan_stop_the_next_fit_trains_on_from_the_best_state():
    model = probe_model(keras.optimizers.Adam(0.01))
    data = PoisonFrom()
    stopper = kr.EarlyStopping(monitor="loss", check_finite=True, verbose=0)
    model.fit(data, epochs=5, verbose=0, callbacks=[Poison(data, after=2), stopper])
    assert stopper.stopped_reason == "non-finite" and stopper.best_epoch == 2
    optimizer = model.optimizer
    assert int(optimizer.iterations.numpy()) == 2 * 4  # the best epoch's count
    for variable in [*model.weights, *optimizer.variables]:
        assert np.all(np.isfinite(np.asarray(variable.numpy()))), variable.path
    history = model.fit(*ones(32), batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
