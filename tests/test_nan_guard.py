import threading

import keras
import numpy as np
import pytest

import keras_recipes as kr
from tests.conftest import BACKEND


class Weights(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.after_step = {}

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        self.after_step[step] = [w.numpy().copy() for w in self.model.weights]


def exploding_fit(guard, epochs=3):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    # A learning rate far above 2 / lambda_max: the weights overflow to inf.
    model.compile(optimizer=keras.optimizers.SGD(1e3), loss="mse")
    weights = Weights()
    model.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0,
              callbacks=[weights, guard])  # fmt: skip
    model.evaluation = model.evaluate(x, y, batch_size=64, verbose=0)
    return model, weights


def test_check_every_1_stops_and_restores_the_last_finite_weights(capsys):
    guard = kr.NaNGuard(check_every=1)
    model, weights = exploding_fit(guard)
    # The loss after step t is computed with the weights of step t - 1: the
    # last weights vouched for by a finite loss are those of step t - 2.
    assert guard.bad_step is not None and guard.restored_step == guard.bad_step - 2
    assert max(weights.after_step) == guard.bad_step  # stopped right there
    for variable, expected in zip(
        model.weights, weights.after_step[guard.restored_step], strict=True
    ):
        np.testing.assert_array_equal(variable.numpy(), expected)
    assert f"at step {guard.bad_step}" in capsys.readouterr().out

    assert np.isfinite(model.evaluation)
    keras_model, _ = exploding_fit(keras.callbacks.TerminateOnNaN())
    assert not np.isfinite(keras_model.evaluation)  # Keras keeps the damage


def test_check_every_restores_an_older_snapshot():
    guard = kr.NaNGuard(check_every=2, verbose=0)
    model, weights = exploding_fit(guard)
    # The copy vouched for by the previous check, not the unvouched last one.
    assert guard.restored_step == guard.bad_step - 2 * 2
    assert guard.restored_step in weights.after_step  # a step that was trained
    for variable, value in zip(
        model.weights, weights.after_step[guard.restored_step], strict=True
    ):
        np.testing.assert_array_equal(variable.numpy(), value)
    assert np.isfinite(model.evaluation)


def test_the_optimizer_state_is_restored_too():
    # With momentum the step that overflows also fills the velocities with
    # inf/NaN: restoring only the weights would poison the next fit.
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(1e3, momentum=0.9), loss="mse")
    guard = kr.NaNGuard(verbose=0)
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[guard])
    assert guard.bad_step is not None
    state = [v.numpy() for v in model.optimizer.variables]
    assert all(np.isfinite(value).all() for value in state)
    assert int(model.optimizer.iterations.numpy()) == guard.restored_step
    model.optimizer.learning_rate.assign(1e-3)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert all(np.isfinite(w.numpy()).all() for w in model.weights)


def test_finite_training_is_left_alone():
    guard = kr.NaNGuard(verbose=0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((8, 2)), np.ones((8, 1)), epochs=2, verbose=0, callbacks=[guard])
    assert guard.bad_step is None and guard.restored_step is None


def test_bad_argument():
    with pytest.raises(ValueError, match=r"`check_every` must be >= 1"):
        kr.NaNGuard(check_every=0)


BATCH, STEPS = 8, 8  # 64 samples per epoch


class EpochEndWeights(keras.callbacks.Callback):
    """The state after each epoch (an epoch hook only: no batch hook, so
    Keras may still run the guard's batch hook on its callback thread)."""

    def on_train_begin(self, logs=None):
        self.at_step = {0: self.state()}

    def on_epoch_end(self, epoch, logs=None):
        self.at_step[
            int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        ] = self.state()

    def state(self):
        return [np.array(keras.ops.convert_to_numpy(v)) for v in self.model.weights]


def poisoned_batches(bad_batch):
    """Batches of a regression, the one of global index `bad_batch` with a NaN."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH * STEPS, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    index = 0
    while True:
        for start in range(0, len(x), BATCH):
            xb = x[start : start + BATCH].copy()
            if index == bad_batch:
                xb[0, 0] = np.nan
            index += 1
            yield xb, y[start : start + BATCH]


@pytest.mark.parametrize(
    ("bad_batch", "restored_step"),
    [
        # Epoch 2, its 4th step: its first step vouched for the copy taken
        # after epoch 1.
        (STEPS + 3, STEPS),
        # Epoch 3, its first step: the copy taken after epoch 2 is not
        # vouched for; the one after epoch 1 is.
        (2 * STEPS, STEPS),
    ],
)
def test_default_restores_a_copy_of_an_epoch_end(bad_batch, restored_step):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="mse")
    guard = kr.NaNGuard(copy_budget=None, verbose=0)  # a copy every epoch
    states = EpochEndWeights()
    history = model.fit(poisoned_batches(bad_batch), steps_per_epoch=STEPS,
                        epochs=4, verbose=0, callbacks=[states, guard])  # fmt: skip
    assert guard.bad_step == bad_batch + 1  # 1-based, one update per batch
    assert guard.bad_epoch == bad_batch // STEPS + 1
    assert len(history.history["loss"]) == guard.bad_epoch  # stopped
    assert guard.restored_step == restored_step
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == restored_step
    for variable, expected in zip(
        model.weights, states.at_step[restored_step], strict=True
    ):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable), expected)
    state = [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables]
    assert all(np.isfinite(value).all() for value in state)


def test_the_default_batch_hook_leaves_keras_dispatch_async():
    # Keras 3.15 runs the batch-end hooks on a thread when every callback's
    # is async-safe, on JAX and PyTorch (TensorFlow: never). The guard's must
    # not turn that off: a wait for the device at every step.
    seen = set()

    class Recording(kr.NaNGuard):
        def _note(self, batch, finite):
            seen.add(threading.get_ident())
            super()._note(batch, finite)

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((64, 4), "float32")
    model.fit(x, x[:, :1], batch_size=8, epochs=2, verbose=0, callbacks=[Recording()])
    main = threading.get_ident()
    assert seen == {main} if BACKEND == "tensorflow" else main not in seen
    assert kr.NaNGuard(check_every=1).async_safe is False


class Ticks:
    """A clock that moves one second per reading."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 1.0
        return self.now


@pytest.mark.parametrize(("budget", "copies"), [(None, 1 + 6), (0.5, 1 + 3)])
def test_copies_stay_within_their_share_of_the_time(monkeypatch, budget, copies):
    # With the clock above a copy takes 1 s and an epoch 1 s of training: a
    # budget of 50 % allows a copy every second epoch end.
    from keras_recipes.callbacks import nan_guard

    monkeypatch.setattr(nan_guard.time, "perf_counter", Ticks())
    guard = kr.NaNGuard(copy_budget=budget, verbose=0)
    made = []
    real_copy = guard._copy
    monkeypatch.setattr(guard, "_copy", lambda: made.append(1) or real_copy())
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((16, 4), "float32")
    model.fit(x, x[:, :1], batch_size=8, epochs=6, verbose=0, callbacks=[guard])
    assert len(made) == copies


@pytest.mark.parametrize("copy_budget", [0, 1.5, "2%", True])
def test_copy_budget_is_checked(copy_budget):
    with pytest.raises((TypeError, ValueError), match="`copy_budget`"):
        kr.NaNGuard(copy_budget=copy_budget)
