"""Shared fixtures: a seed for every test and a probe model that reveals the LR."""

import functools
import os
import socket

import keras
import numpy as np
import pytest
from keras import ops

from keras_recipes._internal.versions import KERAS_VERSION

BACKEND = keras.backend.backend()
# A NaN first value becomes `best` of Keras's ModelCheckpoint and cuts the
# rate of its ReduceLROnPlateau at every epoch after: seen on 3.15; on 3.8
# both start from inf and skip it (the releases between are not tested).
KERAS_KEEPS_A_NAN_BEST = KERAS_VERSION >= (3, 12)


def pytest_collection_modifyitems(config, items):
    """Deselects `backend_independent` tests in the later passes of
    tests/run_all_backends.sh (they ran in its first pass)."""
    if os.environ.get("KERAS_RECIPES_BACKEND_INDEPENDENT") != "deselect":
        return
    once = [item for item in items if item.get_closest_marker("backend_independent")]
    if once:
        config.hook.pytest_deselected(items=once)
        items[:] = [item for item in items if item not in once]


@functools.cache
def keras_survives_a_fit_that_raised_mid_epoch():
    """Whether plain Keras fits a model again after a fit that raised in the
    middle of an epoch. Keras 3.8's JAX trainer keeps the fit's state in a
    local variable: the exception loses it, and the model's next `fit`
    fails inside Keras (`'NoneType' object is not callable`), with or
    without any callback of ours. Tests of what a raised fit leaves then
    raise at an epoch's end, where that trainer has synced its state."""

    class Raise(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            raise KeyboardInterrupt

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    x = np.ones((8, 1), "float32")
    try:
        model.fit(x, x, batch_size=4, verbose=0, callbacks=[Raise()])
    except KeyboardInterrupt:
        pass
    try:
        model.fit(x, x, batch_size=4, verbose=0)
    except TypeError:
        return False
    return True


@pytest.fixture(autouse=True)
def seed():
    keras.utils.set_random_seed(1234)


@keras.saving.register_keras_serializable(package="keras_recipes_tests")
def mean_prediction(y_true, y_pred):
    """Loss whose gradient with respect to a bias-free linear unit is mean(x)."""
    del y_true
    return ops.mean(y_pred)


def probe_model(optimizer, num_inputs=1, steps_per_execution=1):
    """A single bias-free linear unit, kernel 0, loss = mean prediction.

    With inputs of ones the gradient is exactly 1 at every step, so plain SGD
    moves the kernel by -lr: the weights record the learning rate of every
    optimizer step.
    """
    model = keras.Sequential(
        [
            keras.Input((num_inputs,)),
            keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros"),
        ]
    )
    model.compile(
        optimizer=optimizer,
        loss=mean_prediction,
        steps_per_execution=steps_per_execution,
    )
    return model


class CountCalls(keras.layers.Layer):
    """Identity layer counting the Python calls of `call` (a trace, or an
    eager call on PyTorch)."""

    calls = 0

    def call(self, x):
        CountCalls.calls += 1
        return x


def ones(num_samples, num_inputs=1):
    return (
        np.ones((num_samples, num_inputs), "float32"),
        np.zeros((num_samples, 1), "float32"),
    )


class KernelRecorder(keras.callbacks.Callback):
    """Test-only: the kernel after every batch hook (every N steps with
    steps_per_execution=N)."""

    def on_train_begin(self, logs=None):
        self.kernels = []

    def on_train_batch_end(self, batch, logs=None):
        self.kernels.append(np.array(self.model.layers[0].kernel.numpy()).ravel())


def steps_per_execution_values():
    """steps_per_execution > 1 is rejected by the PyTorch backend at compile."""
    return [1] if BACKEND == "torch" else [1, 4]


class FeedMetric(keras.callbacks.Callback):
    """Test-only: puts scripted values into the epoch logs (list it first)."""

    def __init__(self, values, key="score"):
        super().__init__()
        self.values, self.key = values, key

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


class Crash(keras.callbacks.Callback):
    """Test-only: raises at the start of epoch `epoch` (0-based), as a fit
    stopped by an error would (Keras then calls no `on_train_end`)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("simulated crash")


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on (for test servers)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def hold_commits(monkeypatch, modules, held, names=None):
    """Test-only: the savers' `commit_all` in `modules` (a module or a tuple)
    waits for `held` (an Event) before committing; with `names`, only the
    commits of files whose name holds one of them."""
    for module in modules if isinstance(modules, tuple) else (modules,):

        def held_commit_all(writes, commit_all=module.commit_all):
            files = [write.path.name for write in writes]
            if names is None or any(n in f for n in names for f in files):
                assert held.wait(timeout=60), "the held commit was never released"
            return commit_all(writes)

        monkeypatch.setattr(module, "commit_all", held_commit_all)


class ReleaseAt(keras.callbacks.Callback):
    """Test-only: sets `held` at the end of epoch `epoch` (0-based; -1: the
    fit's last). List it before the savers whose hooks wait for it."""

    def __init__(self, held, epoch=-1):
        super().__init__()
        self.held, self.epoch = held, epoch

    def on_epoch_end(self, epoch, logs=None):
        last = self.params["epochs"] - 1
        if epoch == (last if self.epoch == -1 else self.epoch):
            self.held.set()
