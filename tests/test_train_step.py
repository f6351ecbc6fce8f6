"""Our callbacks change the compiled train step for their fit only, at one
trace, and leave Keras's async dispatch of the batch hooks on."""

import gc
import threading
import warnings
import weakref

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
from tests.conftest import (
    BACKEND,
    CountCalls,
    keras_survives_a_fit_that_raised_mid_epoch,
)

STEPS = 4  # batches per epoch: 64 samples, batch 16 (no smaller last batch)


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


# ------------------------------------------- one traced step for many schedules


def kernel_model(optimizer, gradient=1.0):
    """A bias-free unit behind `CountCalls`, kernel 0, on inputs of ones:
    the gradient is `gradient` at every step."""
    model = keras.Sequential(
        [
            keras.Input((1,)),
            CountCalls(),
            keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros"),
        ]
    )
    model.compile(optimizer, loss=lambda y, p: gradient * keras.ops.mean(p))
    return model


class LastKernel(keras.callbacks.Callback):
    """The kernel of the model's last layer after every step."""

    def on_train_begin(self, logs=None):
        self.kernels = []

    def on_train_batch_end(self, batch, logs=None):
        self.kernels.append(float(self.model.layers[-1].kernel.numpy()[0, 0]))


def kernel_fit(model, callbacks=(), epochs=2):
    """Fits 4 steps an epoch; returns (traces, kernel after each step)."""
    x = np.ones((64, 1), "float32")
    recorder = LastKernel()
    before = CountCalls.calls
    model.fit(x, np.zeros((64, 1)), batch_size=16, epochs=epochs, verbose=0,
              shuffle=False, callbacks=[*callbacks, recorder])  # fmt: skip
    return CountCalls.calls - before, np.array(recorder.kernels)


def follows(kernels, previous, rates, momenta, gradient=1.0):
    """Whether the kernel moved as SGD's heavy ball with these rates and
    momenta (`previous`: the two kernels before the fit)."""
    deltas = np.diff(np.concatenate([previous, kernels]))
    want = -np.asarray(rates) * gradient
    got = deltas[1:] - np.asarray(momenta) * deltas[:-1]
    # Kernels of up to ~12 in float32: differences carry ~1e-6 of rounding.
    return np.allclose(got, want, rtol=1e-4, atol=1e-5)


def curves(callback, epochs, compiled=0.1):
    made = callback.schedule_for(epochs, STEPS, compiled)
    steps = np.arange(epochs * STEPS)
    rates = kr.schedules.evaluate(made.learning_rate, steps)
    momenta = (
        np.full(len(steps), 0.9)
        if made.momentum is None
        else kr.schedules.evaluate(made.momentum, steps)
    )
    return rates, momenta


def test_scheduled_fits_share_one_traced_step_and_follow_their_own_schedules():
    model = kernel_model(keras.optimizers.SGD(0.1, momentum=0.9))
    _, kernels = kernel_fit(model, epochs=1)  # The plain step, traced.
    cycle = OneCycle(max_learning_rate=0.2)
    first, cycled = kernel_fit(model, [cycle])
    assert follows(cycled, kernels[-2:], *curves(cycle, 2))
    # Another schedule, the momentum at its own 0.9: on TensorFlow and JAX
    # the step of the 1cycle fit runs again (tables refilled); PyTorch is
    # eager.
    decay = ExponentialScheduling(0.05, decay_epochs=1)
    second, decayed = kernel_fit(model, [decay])
    assert follows(decayed, cycled[-2:], *curves(decay, 2))
    # A plain fit after them: the compiled rate and momentum.
    third, plain = kernel_fit(model, epochs=1)
    assert follows(plain, decayed[-2:], [0.1] * STEPS, [0.9] * STEPS)
    if BACKEND in ("tensorflow", "jax"):
        assert first > 0 and second == 0 and third == 0


def test_the_fit_after_the_lr_finder_follows_its_schedule_at_no_trace():
    model = kernel_model(keras.optimizers.SGD(0.1, momentum=0.9))
    x = np.ones((64, 1), "float32")
    before = CountCalls.calls
    kr.find_learning_rate(model, x, np.zeros((64, 1)), batch_size=16,
                          num_steps=10, verbose=0)  # fmt: skip
    assert CountCalls.calls > before
    cycle = OneCycle(max_learning_rate=0.2)
    traced, kernels = kernel_fit(model, [cycle])
    # The finder put the kernel and the velocity back to 0.
    assert follows(kernels, [0.0, 0.0], *curves(cycle, 2))
    if BACKEND in ("tensorflow", "jax"):
        assert traced == 0  # The finder's step, its tables refilled.


def test_a_kept_step_is_not_run_after_the_model_is_compiled_again():
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
    model = kernel_model(optimizer)
    cycle = OneCycle(max_learning_rate=0.2)
    _, cycled = kernel_fit(model, [cycle])
    # Compiled again with the same optimizer and a loss twice as steep: the
    # step kept for the schedules would still apply the old loss.
    model.compile(optimizer, loss=lambda y, p: 2.0 * keras.ops.mean(p))
    again = OneCycle(max_learning_rate=0.2)
    traced, kernels = kernel_fit(model, [again])
    assert traced > 0
    assert follows(kernels, cycled[-2:], *curves(again, 2), gradient=2.0)


class RaiseAt(keras.callbacks.Callback):
    """Raises `KeyboardInterrupt` (a Ctrl-C) after batch `batch` of epoch
    `epoch` of the fit (at that epoch's end where Keras cannot fit again
    after a fit that raised mid-epoch: `keras_survives_...`)."""

    def __init__(self, batch, epoch=0):
        super().__init__()
        self.batch, self.epoch, self._epoch = batch, epoch, None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self._epoch, batch) == (self.epoch, self.batch):
            if keras_survives_a_fit_that_raised_mid_epoch():
                raise KeyboardInterrupt

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch and not keras_survives_a_fit_that_raised_mid_epoch():
            raise KeyboardInterrupt


@pytest.mark.parametrize("then", ["fit", "compile and fit"])
def test_a_fit_that_raises_is_undone_when_the_next_fit_begins(then):
    # Keras calls no `on_train_end` when a fit raises: the optimizer and the
    # step went on following the 1cycle in the plain fit after.
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
    model = kernel_model(optimizer)
    kernel_fit(model, epochs=1)
    recorder = LastKernel()
    with pytest.raises(KeyboardInterrupt):
        kernel_fit(model, [OneCycle(max_learning_rate=1.0), recorder, RaiseAt(2)])
    if then == "compile and fit":
        model.compile(optimizer, loss=lambda y, p: 2.0 * keras.ops.mean(p))
    with pytest.warns(UserWarning, match="ended in an exception"):
        _, plain = kernel_fit(model, epochs=1)
    gradient = 2.0 if then == "compile and fit" else 1.0
    # The velocity the interrupted fit left decays at the compiled momentum,
    # the update at the compiled rate.
    interrupted = np.array(recorder.kernels)
    deltas = np.diff(np.concatenate([interrupted[-1:], plain]))
    expected, v = [], interrupted[-1] - interrupted[-2]
    for _ in range(STEPS):
        v = 0.9 * v - 0.1 * gradient
        expected.append(v)
    np.testing.assert_allclose(deltas, expected, rtol=1e-4, atol=1e-5)
    assert float(optimizer.momentum) == 0.9
    assert isinstance(optimizer.learning_rate, keras.Variable)
    # Undone once: the fit after it warns no more.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kernel_fit(model, epochs=1)
    assert not [w for w in caught if "ended in an exception" in str(w.message)]
    if then == "fit" and BACKEND in ("tensorflow", "jax"):
        # The step kept for the schedules is free again: the next scheduled
        # fit runs it, no trace.
        traced, _ = kernel_fit(model, [OneCycle(max_learning_rate=0.2)])
        assert traced == 0


def test_a_model_whose_scheduled_fit_raised_is_not_kept_alive():
    # Its undo waits on the model itself, not in a module-level table.
    model = kernel_model(keras.optimizers.SGD(0.1, momentum=0.9))
    with pytest.raises(KeyboardInterrupt):
        kernel_fit(model, [OneCycle(max_learning_rate=1.0), RaiseAt(1)])
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None


def test_the_undo_of_a_scheduled_fit_closes_its_tensorboard_writer(tmp_path):
    model = kernel_model(keras.optimizers.SGD(0.1, momentum=0.9))
    cycle = OneCycle(max_learning_rate=1.0, log_dir=str(tmp_path))
    # Raises after the first epoch's per-step curves are written.
    with pytest.raises(KeyboardInterrupt):
        kernel_fit(model, [cycle, RaiseAt(1, epoch=1)])
    assert cycle._writer is not None
    with pytest.warns(UserWarning, match="ended in an exception"):
        kernel_fit(model, epochs=1)
    assert cycle._writer is None
