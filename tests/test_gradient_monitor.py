"""GradientMonitor: a healthy net passes, vanishing and exploding ones warn."""

import warnings

import keras
import numpy as np
import pytest

import keras_recipes as kr
from keras_recipes._internal.gradients import loss_and_gradients


def test_gradient_helper_matches_the_closed_form():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, use_bias=False)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    y = np.zeros((8, 1), "float32")
    w = model.layers[0].kernel.numpy()
    loss, (gradient,) = loss_and_gradients(model, x, y)
    prediction = x @ w
    assert loss == pytest.approx(float(np.mean(prediction**2)), rel=1e-5)
    np.testing.assert_allclose(gradient, 2 * x.T @ prediction / 8, rtol=1e-4)


def test_gradient_helper_reads_the_weights_and_statistics_of_each_call():
    # Compiled once per model: later calls must see the variables as they are
    # then (new weights, new batch-norm statistics), not as they were traced.
    norm = keras.layers.BatchNormalization(center=False, scale=False, epsilon=0.0)
    dense = keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")
    model = keras.Sequential([keras.Input((1,)), norm, dense])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.full((4, 1), 3.0, "float32"), np.zeros((4, 1), "float32")

    def expected():
        # Inference mode: h = (x - mean) / sqrt(var); loss = mean((w h)^2).
        h = (3.0 - norm.moving_mean.numpy()[0]) / np.sqrt(
            norm.moving_variance.numpy()[0]
        )
        w = dense.kernel.numpy()[0, 0]
        return (w * h) ** 2, 2 * w * h**2

    for kernel, mean, variance in [(1.0, 0.0, 1.0), (2.0, 0.0, 1.0), (2.0, 1.0, 4.0)]:
        dense.kernel.assign([[kernel]])
        norm.moving_mean.assign([mean])
        norm.moving_variance.assign([variance])
        loss, (gradient,) = loss_and_gradients(model, x, y)
        want_loss, want_gradient = expected()
        assert loss == pytest.approx(want_loss, rel=1e-5)
        assert gradient[0, 0] == pytest.approx(want_gradient, rel=1e-5)


def test_gradient_helper_traces_once_per_model(monkeypatch):
    from keras_recipes._internal import gradients

    calls = []
    loss_of = gradients._loss_of
    monkeypatch.setattr(
        gradients, "_loss_of", lambda *a, **k: calls.append(1) or loss_of(*a, **k)
    )
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 2), "float32")
    for _ in range(3):
        loss_and_gradients(model, x, y)
    # TensorFlow and JAX run the Python function at the trace only.
    traced = 3 if keras.backend.backend() == "torch" else 1
    assert len(calls) == traced


def data(n=128, features=16):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, features)).astype("float32")
    return x, (x[:, 0] > 0).astype("int32")


def fit(model, monitor, optimizer="sgd", loss="sparse_categorical_crossentropy"):
    x, y = data()
    model.compile(optimizer=optimizer, loss=loss)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x, y, batch_size=16, epochs=1, verbose=0,
                            callbacks=[monitor])  # fmt: skip
    messages = [str(w.message) for w in caught if "GradientMonitor" in str(w.message)]
    return history, messages


def test_healthy_network_is_not_flagged_and_records_updates(tmp_path):
    x, y = data()
    monitor = kr.GradientMonitor((x[:64], y[:64]), every=2, log_dir=tmp_path)
    model = kr.build_mlp((16,), 2, hidden_layers=3, units=32)
    history, messages = fit(model, monitor)
    assert messages == [] and monitor.problems == {}
    assert [r["step"] for r in monitor.history] == [2, 4, 6, 8]
    last = monitor.history[-2]
    names = [layer.name for layer in model.layers]
    assert list(last["layers"]) == names
    ratios = [s["update_ratio"] for s in last["layers"].values()]
    assert all(r is not None and 0 < r < 1 for r in ratios)
    assert history.history["gradient_norm"][0] == monitor.history[-1]["global_norm"]
    # TensorBoard: scalars and histograms, read back from the event file.
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )

    events = EventAccumulator(str(tmp_path), size_guidance={"tensors": 0})
    events.Reload()
    tags = set(events.Tags()["tensors"])
    first = names[0]
    assert {"gradients/global_norm", f"gradients/{first}/norm",
            f"gradients/{first}", f"updates/{first}/ratio"} <= tags  # fmt: skip
    steps = [e.step for e in events.Tensors("gradients/global_norm")]
    assert steps == [2, 4, 6, 8]


def test_vanishing_gradients_are_flagged_with_the_layers():
    x, y = data()
    deep_sigmoid = kr.build_mlp(
        (16,), 2, hidden_layers=15, units=32, activation="sigmoid"
    )
    monitor = kr.GradientMonitor((x[:64], y[:64]), every=4)
    _, messages = fit(deep_sigmoid, monitor)
    assert len(messages) == 1 and "vanishing gradients" in messages[0]
    first, last = deep_sigmoid.layers[0].name, deep_sigmoid.layers[-1].name
    assert f"layers {first}," in messages[0]
    assert first in monitor.problems["vanishing"]
    assert last not in monitor.problems["vanishing"]


def test_exploding_gradients_are_flagged():
    x, y = data()
    # Linear layers with std 3 weights: each multiplies the signal by ~17.
    huge = keras.initializers.RandomNormal(stddev=3.0)
    model = keras.Sequential(
        [keras.Input((16,))]
        + [keras.layers.Dense(32, kernel_initializer=huge) for _ in range(6)]
        + [keras.layers.Dense(1)]
    )
    monitor = kr.GradientMonitor((x[:64], y[:64, None]), every=4)
    _, messages = fit(model, monitor, keras.optimizers.SGD(1e-30), loss="mse")
    assert len(messages) == 1 and "exploding gradients" in messages[0]
    assert "exploding" in monitor.problems


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"probe_data": np.ones(3)}, TypeError, r"`probe_data` must be a tuple"),
        ({"every": 0}, ValueError, r"`every` must be >= 1"),
        ({"vanishing_ratio": 0}, ValueError, r"`vanishing_ratio` must be > 0"),
        ({"exploding_threshold": -1}, ValueError, r"`exploding_threshold` must be > 0"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    kwargs = {"probe_data": (np.ones((2, 2)), np.ones(2)), **kwargs}
    with pytest.raises(error, match=match):
        kr.GradientMonitor(**kwargs)
