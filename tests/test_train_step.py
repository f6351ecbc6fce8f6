"""Our callbacks change the compiled train step for their fit only, at one
trace, and leave Keras's async dispatch of the batch hooks on."""

import threading

import keras
import numpy as np
import pytest

import keras_recipes as kr
from keras_recipes.callbacks import (
    ExponentialScheduling,
    NaNGuard,
    OneCycle,
    PerformanceScheduling,
)
from tests.conftest import BACKEND

STEPS = 4  # batches per epoch: 64 samples, batch 16 (no smaller last batch)


class CountCalls(keras.layers.Layer):
    """Identity layer counting the Python calls of `call` (a trace, or an
    eager step on PyTorch)."""

    calls = 0

    def call(self, x):
        CountCalls.calls += 1
        return x


def counting_model():
    model = keras.Sequential(
        [
            keras.Input((3,)),
            CountCalls(),
            keras.layers.Dense(4, activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(
        keras.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy"
    )
    return model


def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(64, 3)).astype("float32"), rng.integers(0, 2, 64)


def fit(model, callbacks=()):
    x, y = data()
    before = CountCalls.calls
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=list(callbacks))
    return CountCalls.calls - before


CALLBACKS = {
    "OneCycle": lambda: OneCycle(max_learning_rate=0.1),
    "ExponentialScheduling": lambda: ExponentialScheduling(0.05, decay_epochs=1),
    "NaNGuard": lambda: NaNGuard(),
    "OneCycle+NaNGuard": lambda: [OneCycle(max_learning_rate=0.1), NaNGuard()],
}


@pytest.mark.parametrize("name", sorted(CALLBACKS))
def test_a_plain_fit_after_ours_traces_nothing(name):
    model = counting_model()
    fit(model)  # Traces the plain step.
    plain = model.train_function
    made = CALLBACKS[name]()
    fit(model, made if isinstance(made, list) else [made])
    assert model.train_function is plain
    # Eager PyTorch calls the layer at every step; the compiled backends
    # reuse the step traced by the first fit.
    assert fit(model) == (2 * STEPS if BACKEND == "torch" else 0)


def test_a_lasting_change_is_not_undone_by_the_release():
    # PerformanceScheduling scales a compiled schedule for good: the function
    # compiled before it must not come back at the end of the fit.
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 1.0)
    model.compile(keras.optimizers.SGD(schedule), "mse")
    x = np.ones((64, 3), "float32")
    y = np.zeros((64, 2), "float32")
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    plain = model.train_function
    scheduler = PerformanceScheduling(
        monitor="loss", mode="max", patience=0, factor=0.5
    )
    model.fit(
        x, y, batch_size=16, epochs=2, verbose=0, callbacks=[scheduler, NaNGuard()]
    )
    assert scheduler.scale < 1
    assert model.train_function is not plain


# Keras 3.15 runs the batch-end hooks on its callback thread, so that the
# train loop never waits for the device to read the logs, when every
# callback's batch-end hook is async-safe (or absent), on JAX and PyTorch.
# On TensorFlow it never does. A callback of ours at its defaults must not
# turn that off.
DEFAULT_CALLBACKS = {
    "OneCycle": lambda tmp: OneCycle(max_learning_rate=0.1),
    "ExponentialScheduling": lambda tmp: ExponentialScheduling(0.05, decay_epochs=1),
    "PerformanceScheduling": lambda tmp: PerformanceScheduling(monitor="loss"),
    "EarlyStopping": lambda tmp: kr.EarlyStopping(monitor="loss"),
    "BestCheckpoint": lambda tmp: kr.BestCheckpoint(tmp / "best.keras", monitor="loss"),
    "ResumableBackup": lambda tmp: kr.ResumableBackup(tmp / "backup"),
    "NaNGuard": lambda tmp: NaNGuard(),
    "GradientMonitor": lambda tmp: kr.GradientMonitor(
        (data()[0][:8], data()[1][:8]), every=2
    ),
    "ActivationMonitor": lambda tmp: kr.ActivationMonitor(data()[0][:8]),
    "OptimizerLogs": lambda tmp: kr.OptimizerLogs(),
}


class ThreadProbe(keras.callbacks.Callback):
    async_safe = True

    def on_train_begin(self, logs=None):
        self.threads = set()

    def on_train_batch_end(self, batch, logs=None):
        self.threads.add(threading.get_ident())


@pytest.mark.parametrize("name", sorted(DEFAULT_CALLBACKS))
def test_batch_end_hooks_stay_async(name, tmp_path):
    model = counting_model()
    probe = ThreadProbe()
    x, y = data()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0,
              callbacks=[DEFAULT_CALLBACKS[name](tmp_path), probe])  # fmt: skip
    main = threading.get_ident()
    if BACKEND == "tensorflow":
        assert probe.threads == {main}
    else:
        assert probe.threads and main not in probe.threads
