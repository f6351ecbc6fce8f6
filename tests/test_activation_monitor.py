import keras
import numpy as np
import pytest

import keras_recipes as kr
from tests.conftest import CountCalls


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 16)).astype("float32")
    return x, (x[:, 0] > 0).astype("int32")


def fit(model, monitor):
    x, y = data()
    model.compile(
        optimizer=keras.optimizers.SGD(1e-3), loss="sparse_categorical_crossentropy"
    )
    return model.fit(x, y, epochs=2, verbose=0, callbacks=[monitor])


def test_healthy_relu_network_is_not_flagged():
    x, _ = data()
    monitor = kr.ActivationMonitor(x[:64])
    history = fit(kr.build_mlp((16,), 2, hidden_layers=3, units=32), monitor)
    layers = monitor.history[-1]["layers"]
    assert len(layers) == 3 and len(monitor.history) == 2
    assert max(s["dead"] for s in layers.values()) < 0.2
    assert history.history["dead_fraction_max"][-1] < 0.2
    assert all(0.1 < s["std"] < 10 for s in layers.values())


def test_dead_relu_units_are_detected():
    x, _ = data()
    dead_bias = keras.initializers.Constant(-100.0)
    model = keras.Sequential(
        [
            keras.Input((16,)),
            keras.layers.Dense(32, activation="relu", bias_initializer=dead_bias),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    monitor = kr.ActivationMonitor(x[:64])
    history = fit(model, monitor)
    assert history.history["dead_fraction_max"][-1] == pytest.approx(1.0)


def test_negative_leaky_relu_units_are_not_dead():
    # Below 0 a leaky ReLU still passes a gradient: all-negative is not dead.
    x, _ = data()
    model = keras.Sequential(
        [
            keras.Input((16,)),
            keras.layers.Dense(
                32, bias_initializer=keras.initializers.Constant(-100.0)
            ),
            keras.layers.LeakyReLU(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    monitor = kr.ActivationMonitor(x[:64])
    history = fit(model, monitor)
    assert history.history["dead_fraction_max"][-1] == 0.0


def test_saturated_tanh_is_detected():
    x, _ = data()
    huge = keras.initializers.RandomNormal(stddev=10.0)
    model = keras.Sequential(
        [
            keras.Input((16,)),
            keras.layers.Dense(32, kernel_initializer=huge),
            keras.layers.Activation("tanh"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    monitor = kr.ActivationMonitor(x[:64])
    history = fit(model, monitor)
    assert history.history["saturated_fraction_max"][-1] > 0.9
    assert list(monitor.history[-1]["layers"]) == [model.layers[1].name]


def test_every_and_bad_argument():
    x, _ = data()
    monitor = kr.ActivationMonitor(x[:16], every=2)
    fit(kr.build_mlp((16,), 2), monitor)
    assert [h["epoch"] for h in monitor.history] == [2]
    with pytest.raises(ValueError, match=r"`every` must be >= 1"):
        kr.ActivationMonitor(x, every=0)


def test_a_model_without_a_layer_to_watch_is_refused_at_train_begin():
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2, activation="softmax")]
    )
    model.compile("sgd", "sparse_categorical_crossentropy")
    x = np.ones((8, 3), "float32")
    with pytest.raises(ValueError, match="found no layer to watch"):
        model.fit(
            x, np.zeros(8), epochs=1, verbose=0, callbacks=[kr.ActivationMonitor(x)]
        )


def test_the_probe_is_compiled_once_and_reads_the_weights_of_each_check():
    # Compiled once per model (TensorFlow, JAX), and the probe kept for the
    # model: each new monitor's check must see the weights as they are then.
    # Kernel 0 and bias b: every unit outputs relu(b).
    dense = keras.layers.Dense(4, activation="relu", kernel_initializer="zeros")
    model = keras.Sequential(
        [
            keras.Input((2,)),
            CountCalls(),  # On the probe's path.
            dense,
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    x = np.ones((8, 2), "float32")
    before = CountCalls.calls
    for bias in (1.0, -1.0, 3.0):
        dense.bias.assign(np.full(4, bias, "float32"))
        monitor = kr.ActivationMonitor(x)
        monitor.set_model(model)
        monitor.on_train_begin()
        monitor.on_epoch_end(0, {})
        stats = monitor.history[-1]["layers"][dense.name]
        assert stats["mean"] == pytest.approx(max(bias, 0.0))
        assert stats["dead"] == (1.0 if bias < 0 else 0.0)
    traced = 3 if keras.backend.backend() == "torch" else 1
    assert CountCalls.calls - before == traced
