"""The LR finder on a real fit: exact restore, batch losses, divergence, data."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_recipes as kr
from keras_recipes.lr_finder.sweep import Sweep
from keras_recipes.plots import plot_lr_finder
from tests.conftest import (
    BACKEND,
    keras_survives_a_fit_that_raised_mid_epoch,
    mean_prediction,
    probe_model,
    steps_per_execution_values,
)


def classifier(optimizer, steps_per_execution=1, dropout=True):
    layers = [keras.Input((8,)), keras.layers.Dense(16, activation="relu")]
    if dropout:
        layers += [keras.layers.BatchNormalization(), keras.layers.Dropout(0.2)]
    model = keras.Sequential(layers + [keras.layers.Dense(3, activation="softmax")])
    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        steps_per_execution=steps_per_execution,
    )
    return model


def blobs(n=64, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n).astype("int32")
    x = (rng.normal(size=(n, 8)) + y[:, None]).astype("float32")
    return x, y


def snapshot(model):
    return [np.array(v.numpy(), copy=True) for v in model.variables], [
        np.array(v.numpy(), copy=True) for v in model.optimizer.variables
    ]


@pytest.mark.parametrize(
    "optimizer",
    [
        lambda: keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
        lambda: keras.optimizers.Adam(1e-3),
    ],
    ids=["sgd", "adam"],
)
@pytest.mark.slow
def test_restores_model_and_optimizer_exactly(optimizer):
    x, y = blobs()
    keras.utils.set_random_seed(3)
    model = classifier(optimizer())
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)  # non-trivial state
    weights, slots = snapshot(model)
    result = kr.find_learning_rate(model, x, y, batch_size=16, num_steps=30, verbose=0)
    assert result.steps > 10
    after_weights, after_slots = snapshot(model)
    for before, after in zip(weights + slots, after_weights + after_slots, strict=True):
        np.testing.assert_array_equal(before, after)
    assert isinstance(model.optimizer.learning_rate, keras.Variable)
    # The next fit trains exactly as the same fit on an untouched twin.
    keras.utils.set_random_seed(3)
    twin = classifier(optimizer())
    twin.fit(x, y, batch_size=16, epochs=2, verbose=0)
    for model_ in (model, twin):
        keras.utils.set_random_seed(4)
        model_.fit(x, y, batch_size=16, epochs=1, verbose=0)
    for a, b in zip(model.variables, twin.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_restores_an_optimizer_that_was_never_built():
    x, y = blobs()
    model = classifier(keras.optimizers.Adam(1e-3))
    weights = [np.array(v.numpy(), copy=True) for v in model.variables]
    kr.find_learning_rate(model, x, y, batch_size=16, num_steps=20, verbose=0)
    for before, variable in zip(weights, model.variables, strict=True):
        np.testing.assert_array_equal(before, variable.numpy())
    assert int(model.optimizer.iterations.numpy()) == 0
    assert all(not np.any(v.numpy()) for v in model.optimizer.variables[2:])


class StaleLossMean(keras.Sequential):
    """`model.metrics` starts with a `Mean` named "loss" that no step
    updates, as a custom `train_step` may leave one: the finder then resets
    the metrics before each batch and reads the logs."""

    def __init__(self, layers):
        super().__init__(layers)
        self.stale = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.stale, *(m for m in super().metrics if m is not self.stale)]


@pytest.mark.parametrize("spe", steps_per_execution_values())
@pytest.mark.parametrize("tracker", ["keras", "stale"])
def test_records_the_loss_of_each_batch_not_the_running_mean(spe, tracker):
    # Probe: loss = mean(x_batch . w), gradient mean(x_batch); with plain SGD
    # the weights before step t are -sum_{s<t} lr_s g_s, so every batch loss
    # is known in closed form.
    rng = np.random.default_rng(1)
    x = rng.uniform(0.5, 1.5, size=(80, 3)).astype("float32")
    y = np.zeros((80, 1), "float32")
    model = probe_model(
        keras.optimizers.SGD(0.01), num_inputs=3, steps_per_execution=spe
    )
    if tracker == "stale":
        unit = keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")
        model = StaleLossMean([keras.Input((3,)), unit])
        model.compile(
            optimizer=keras.optimizers.SGD(0.01),
            loss=mean_prediction,
            steps_per_execution=spe,
        )
    result = kr.find_learning_rate(
        model, x, y, batch_size=4, shuffle=False, num_steps=40,
        min_learning_rate=1e-3, max_learning_rate=1.0,
        divergence_threshold=None, verbose=0,
    )  # fmt: skip
    grads = [x[4 * (t % 20) : 4 * (t % 20) + 4].mean(axis=0) for t in range(40)]
    rates = Sweep(1e-3, 1.0, 40, "exponential").values(0, 40)
    w = np.zeros(3)
    batch_losses = []
    for g, lr in zip(grads, rates, strict=True):
        batch_losses.append(float(g @ w))
        w = w - lr * g
    expected = np.array(batch_losses).reshape(-1, spe).mean(axis=1)
    np.testing.assert_allclose(result.losses, expected, rtol=1e-4, atol=1e-5)
    expected_rates = np.exp(np.log(rates).reshape(-1, spe).mean(axis=1))
    np.testing.assert_allclose(result.learning_rates, expected_rates, rtol=1e-6)
    running_mean = np.cumsum(batch_losses[:20]) / np.arange(1, 21)
    assert not np.allclose(result.losses[: 20 // spe], running_mean[spe - 1 :: spe])


class WatchedFinder(kr.LRFinder):
    """Counts the reads of `Callback.model` in the batch hooks: on JAX each
    syncs the fit's whole state back into the variables."""

    in_batch = False
    batch_reads = 0

    @property
    def model(self):
        self.batch_reads += self.in_batch
        return super().model

    def on_train_batch_begin(self, batch, logs=None):
        self.in_batch = True
        super().on_train_batch_begin(batch, logs)
        self.in_batch = False

    def on_train_batch_end(self, batch, logs=None):
        self.in_batch = True
        super().on_train_batch_end(batch, logs)
        self.in_batch = False


def test_the_batch_hooks_read_the_model_only_to_stop_the_fit():
    x, y = blobs(n=120)
    model = classifier(keras.optimizers.Adam(1e-3))
    finder = WatchedFinder(num_steps=30, divergence_threshold=None, verbose=0)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[finder])
    assert finder.result.steps == 30
    # One read: `stop_training` after the last step.
    assert finder.batch_reads == 1


def regression(n=256, seed=2):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0], "float32"))[:, None]
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    return model, x, y


def test_stops_on_divergence_and_suggests_below_it():
    model, x, y = regression()
    result = kr.find_learning_rate(model, x, y, batch_size=32, verbose=0)
    assert result.stopped_reason.startswith("diverged")
    assert result.steps < 100
    # Gradient descent on this quadratic is unstable above 2 / lambda_max ~ 2.
    assert result.learning_rates[-1] > 1.0
    assert all(lr < result.learning_rates[-1] for lr in result.suggestions.values())


def test_stops_on_the_first_nan():
    # With the 4x rule off, weights overflow float32 at huge learning rates.
    model, x, y = regression()
    result = kr.find_learning_rate(
        model, x, y, batch_size=32, max_learning_rate=1e12, num_steps=60,
        divergence_threshold=None, verbose=0,
    )  # fmt: skip
    assert "non-finite" in result.stopped_reason
    assert not np.isfinite(result.losses[-1])
    finite_end = len(result.losses) - 1
    assert all(
        lr is None or lr <= result.learning_rates[finite_end]
        for lr in result.suggestions.values()
    )
    # The restore after a NaN: weights and optimizer state are the ones from
    # before the sweep, so the model trains on, finite from its first step.
    for variable in model.weights + model.optimizer.variables:
        assert np.all(np.isfinite(keras.ops.convert_to_numpy(variable))), variable.path
    history = model.fit(x, y, batch_size=32, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0])


class Batches(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self):
        return len(self.x) // self.batch_size

    def __getitem__(self, i):
        s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self.x[s], self.y[s]


def endless(x, y, batch_size):
    while True:
        for i in range(0, len(x), batch_size):
            yield x[i : i + batch_size], y[i : i + batch_size]


@pytest.mark.parametrize("kind", ["numpy", "tf.data", "PyDataset", "generator"])
def test_accepts_every_kind_of_data_without_sample_counts(kind):
    x, y = blobs(48)
    data = {
        "numpy": lambda: (x, y, {"batch_size": 16}),
        "tf.data": lambda: (
            tf.data.Dataset.from_tensor_slices((x, y)).batch(16),
            None,
            {},
        ),
        "PyDataset": lambda: (Batches(x, y, 16), None, {}),
        "generator": lambda: (endless(x, y, 16), None, {}),
    }[kind]
    inputs, targets, kwargs = data()
    model = classifier(keras.optimizers.SGD(0.01))
    weights, _ = snapshot(model)
    result = kr.find_learning_rate(
        model, inputs, targets, num_steps=30, max_learning_rate=0.1, verbose=0,
        **kwargs,
    )  # fmt: skip
    assert result.steps == 30 and len(result.losses) == 30
    assert result.stopped_reason == "completed 30 steps"
    for before, variable in zip(weights, model.variables, strict=True):
        np.testing.assert_array_equal(before, variable.numpy())


def test_sweeps_on_validation_loss():
    x, y = blobs(64)
    x_val, y_val = blobs(32, seed=5)
    model = classifier(keras.optimizers.SGD(0.01), dropout=False)
    result = kr.find_learning_rate(
        model, x, y, batch_size=16, num_steps=20, validation_data=(x_val, y_val),
        verbose=0,
    )  # fmt: skip
    assert result.monitor == "val_loss" and len(result.losses) == 20
    # The first point is the validation loss after one tiny step: the loss of
    # the untouched model on the validation data, to float precision.
    untouched = model.evaluate(x_val, y_val, verbose=0)
    assert result.losses[0] == pytest.approx(untouched, rel=1e-4)


def test_lr_finder_callback_in_a_users_fit(tmp_path, capsys):
    x, y = blobs()
    model = classifier(keras.optimizers.SGD(0.01))
    finder = kr.LRFinder(num_steps=20, method="steep")
    model.fit(x, y, batch_size=8, epochs=5, verbose=0, callbacks=[finder])
    out = capsys.readouterr().out
    assert "LR finder: step 20/20" in out and "suggested learning rate (steep)" in out
    result = finder.result
    assert result.suggestion == result.suggestions["steep"]
    png = plot_lr_finder(result, tmp_path / "curve.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    rows = result.to_csv(tmp_path / "curve.csv").read_text().splitlines()
    assert rows[0] == "learning_rate,loss,smoothed_loss" and len(rows) == 21
    assert float(rows[1].split(",")[0]) == pytest.approx(1e-7)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"min_learning_rate": 1.0, "max_learning_rate": 1.0},
         r"`min_learning_rate` must be < `max_learning_rate`"),
        ({"min_learning_rate": 0}, r"`min_learning_rate` must be > 0"),
        ({"max_learning_rate": -1}, r"`max_learning_rate` must be > 0"),
        ({"num_steps": 5}, r"`num_steps` must be >= 10. Received: num_steps=5"),
        ({"mode": "log"}, r"`mode` must be one of 'exponential', 'linear'"),
        ({"method": "best"}, r"`method` must be one of 'valley', 'steep'"),
        ({"divergence_threshold": 1.0}, r"`divergence_threshold` must be > 1"),
        ({"epochs": 3}, r"find_learning_rate sets epochs itself"),
    ],
)  # fmt: skip
def test_bad_arguments(kwargs, match):
    x, y = blobs(16)
    model = classifier(keras.optimizers.SGD(0.01))
    with pytest.raises(ValueError, match=match):
        kr.find_learning_rate(model, x, y, verbose=0, **kwargs)


def test_uncompiled_model_is_refused():
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match=r"`model` must be compiled"):
        kr.find_learning_rate(model, *blobs(16), verbose=0)


def test_optimizer_with_a_schedule_is_refused():
    model = classifier(keras.optimizers.SGD(kr.PowerDecay(0.1, 10)))
    with pytest.raises(ValueError, match=r"compiled with a float learning rate"):
        kr.find_learning_rate(model, *blobs(16), verbose=0)
    assert BACKEND


class FailAtEpochEnd(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise OSError("a bad batch")


class FailingBatches(keras.utils.PyDataset):
    """The blobs in batches of 16; batch `fail_at` raises (a bad file)."""

    def __init__(self, x, y, fail_at):
        super().__init__()
        self.x, self.y, self.fail_at = x, y, fail_at

    def __len__(self):
        return len(self.x) // 16

    def __getitem__(self, index):
        if index == self.fail_at:
            raise OSError("a bad batch")
        return self.x[16 * index : 16 * index + 16], self.y[
            16 * index : 16 * index + 16
        ]


def test_an_interrupted_sweep_leaves_the_model_as_it_was():
    x, y = blobs()
    model = classifier(keras.optimizers.Adam(1e-3))
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    weights, slots = snapshot(model)
    # TensorFlow's data pipeline wraps the error in its own type.
    with pytest.raises(Exception, match="a bad batch"):
        kr.find_learning_rate(
            model, FailingBatches(x, y, fail_at=3), num_steps=20, verbose=0
        )
    # Restored at once: weights, slots, iterations and the learning rate.
    after_weights, after_slots = snapshot(model)
    for before, after in zip(weights + slots, after_weights + after_slots, strict=True):
        np.testing.assert_array_equal(before, after)
    assert isinstance(model.optimizer.learning_rate, keras.Variable)


def test_an_interrupted_finder_callback_is_undone_at_the_next_fit():
    x, y = blobs()
    # No dropout: its seed is not among the weights a twin can be given.
    model = classifier(keras.optimizers.SGD(0.01, momentum=0.9), dropout=False)
    weights = model.get_weights()
    finder = kr.LRFinder(num_steps=20, divergence_threshold=None, verbose=0)
    # Batch 3 (of 4 an epoch) fails; where Keras cannot fit again after
    # that, epoch 1's end does (4 of the sweep's 20 steps done).
    mid_epoch = keras_survives_a_fit_that_raised_mid_epoch()
    failing = [] if mid_epoch else [FailAtEpochEnd()]
    # TensorFlow's data pipeline wraps the error in its own type.
    with pytest.raises(Exception, match="a bad batch"):
        model.fit(FailingBatches(x, y, fail_at=3 if mid_epoch else None), epochs=5,
                  verbose=0, callbacks=[finder, *failing])  # fmt: skip
    # The fit after it starts from the weights before the sweep, at the
    # compiled rate: as the same fit of an untouched twin.
    twin = classifier(keras.optimizers.SGD(0.01, momentum=0.9), dropout=False)
    twin.set_weights(weights)
    for model_, expect_warning in ((model, True), (twin, False)):
        keras.utils.set_random_seed(4)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model_.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
        said = [w for w in caught if "ended in an exception" in str(w.message)]
        assert bool(said) == expect_warning
    for a, b in zip(model.variables, twin.variables, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)
