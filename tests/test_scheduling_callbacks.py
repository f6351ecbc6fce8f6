"""The scheduling callbacks, checked through the weights a real `fit` produces."""

import keras
import numpy as np
import pytest

from keras_recipes.callbacks import (
    ExponentialScheduling,
    OneCycle,
    PiecewiseConstantScheduling,
    PowerScheduling,
)
from keras_recipes.schedules import OneCycleSchedule, PowerDecay, evaluate
from tests.conftest import (
    BACKEND,
    KernelRecorder,
    ones,
    probe_model,
    steps_per_execution_values,
)

STEPS_PER_EPOCH = 8
BATCH = 4


def learning_rates_used(callback, epochs, *, initial_epoch=0, spe=1, lr=0.01):
    """Runs a probe fit; returns (learning rate of every step, model, history).

    The probe's gradient is 1 at every step, so with plain SGD the kernel after
    step t is -sum(lr_0..lr_t). With steps_per_execution=N the batch hook fires
    every N steps, so the recorded sums are every N-th; their differences are
    the sums of N learning rates.
    """
    model = probe_model(keras.optimizers.SGD(lr), steps_per_execution=spe)
    x, y = ones(STEPS_PER_EPOCH * BATCH)
    recorder = KernelRecorder()
    history = model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=epochs,
        initial_epoch=initial_epoch,
        shuffle=False,
        verbose=0,
        callbacks=[callback, recorder],
    )
    cumulative = -np.array(recorder.kernels)[:, 0]
    return np.diff(cumulative, prepend=0.0), model, history


def expected_rates(schedule, first_step, num_steps, spe=1):
    rates = np.array(
        [float(schedule(s)) for s in range(first_step, first_step + num_steps)]
    )
    return rates.reshape(-1, spe).sum(axis=1)


@pytest.mark.parametrize("spe", steps_per_execution_values())
def test_one_cycle_follows_schedule_at_every_step(spe):
    callback = OneCycle(0.5, cycle_momentum=False)
    got, model, history = learning_rates_used(callback, epochs=3, spe=spe)
    schedule = OneCycleSchedule(max_learning_rate=0.5, total_steps=3 * STEPS_PER_EPOCH)
    np.testing.assert_allclose(
        got, expected_rates(schedule, 0, 24, spe), rtol=1e-4, atol=1e-6
    )
    np.testing.assert_allclose(
        history.history["learning_rate"], [float(schedule(8 * e)) for e in (1, 2, 3)]
    )


@pytest.mark.parametrize(
    "callback, schedule",
    [
        (PowerScheduling(0.2, decay_epochs=1), PowerDecay(0.2, STEPS_PER_EPOCH)),
        (
            ExponentialScheduling(0.2, decay_steps=5),
            keras.optimizers.schedules.ExponentialDecay(0.2, 5, 0.1),
        ),
        (
            PiecewiseConstantScheduling([0.5, 2], [0.3, 0.2, 0.1]),
            # Epochs 0.5 and 2 begin at steps 4 and 16: Keras switches
            # after a boundary, so the step boundaries are 3 and 15.
            keras.optimizers.schedules.PiecewiseConstantDecay([3, 15], [0.3, 0.2, 0.1]),
        ),
        (
            PiecewiseConstantScheduling([3, 17], [0.3, 0.2, 0.1], unit="step"),
            keras.optimizers.schedules.PiecewiseConstantDecay([3, 17], [0.3, 0.2, 0.1]),
        ),
    ],
    ids=["power", "exponential", "piecewise-epochs", "piecewise-steps"],
)
@pytest.mark.parametrize("spe", steps_per_execution_values())
def test_decay_callbacks_follow_schedule_at_every_step(callback, schedule, spe):
    got, model, history = learning_rates_used(callback, epochs=3, spe=spe)
    np.testing.assert_allclose(
        got, expected_rates(schedule, 0, 24, spe), rtol=1e-4, atol=1e-7
    )
    # Epoch logs: the learning rate of the next step.
    np.testing.assert_allclose(
        history.history["learning_rate"],
        [float(schedule(8 * (e + 1))) for e in range(3)],
        rtol=1e-5,
    )


def test_initial_learning_rate_defaults_to_the_compiled_one():
    got, _, _ = learning_rates_used(PowerScheduling(decay_steps=4), epochs=1, lr=0.07)
    np.testing.assert_allclose(
        got, expected_rates(PowerDecay(0.07, 4), 0, 8), rtol=1e-4
    )


def test_initial_epoch_starts_inside_the_schedule():
    # Hyperband and resumed runs call fit(initial_epoch=k): the cycle spans
    # `epochs` epochs and this fit runs its last `epochs - k`.
    callback = OneCycle(0.5, cycle_momentum=False)
    got, _, _ = learning_rates_used(callback, epochs=3, initial_epoch=1)
    schedule = OneCycleSchedule(0.5, total_steps=24)
    np.testing.assert_allclose(
        got, expected_rates(schedule, 8, 16), rtol=1e-4, atol=1e-7
    )


def test_second_fit_runs_the_schedule_again_and_optimizer_is_restored():
    model = probe_model(keras.optimizers.SGD(0.01))
    x, y = ones(STEPS_PER_EPOCH * BATCH)
    callback = PowerScheduling(0.2, decay_steps=3)
    variables_before = [v.path for v in model.optimizer.variables]
    for _ in range(2):
        recorder = KernelRecorder()
        start = float(model.layers[0].kernel.numpy()[0, 0])
        model.fit(
            x,
            y,
            batch_size=BATCH,
            epochs=2,
            shuffle=False,
            verbose=0,
            callbacks=[callback, recorder],
        )
        got = np.diff(-np.array(recorder.kernels)[:, 0], prepend=-start)
        np.testing.assert_allclose(
            got, expected_rates(PowerDecay(0.2, 3), 0, 16), rtol=1e-4
        )
        # Back to the compiled float learning rate, same variables.
        assert isinstance(model.optimizer.learning_rate, keras.Variable)
        assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.01)
        assert [v.path for v in model.optimizer.variables] == variables_before
    # A fit without the callback uses the compiled rate again.
    recorder = KernelRecorder()
    start = float(model.layers[0].kernel.numpy()[0, 0])
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[recorder])
    got = np.diff(-np.array(recorder.kernels)[:, 0], prepend=-start)
    np.testing.assert_allclose(got, np.full(8, 0.01), rtol=1e-4)


# ------------------------------------------------------------ momentum


def simulate(optimizer_name, schedule, grads, max_m=0.95, min_m=0.85, cycle=True):
    """NumPy reference of Keras's SGD-with-momentum, Adam and Nadam updates."""
    w = np.zeros_like(grads[0])
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    u_product = 1.0
    out = []
    for t, g in enumerate(grads):
        lr = float(schedule(t))
        mu = float(schedule.momentum(t, max_m, min_m)) if cycle else 0.9
        if optimizer_name == "sgd":
            m = m * mu - lr * g
            w = w + m
        elif optimizer_name == "nadam":
            u_t = mu * (1 - 0.5 * 0.96 ** (t + 1))
            u_t_1 = mu * (1 - 0.5 * 0.96 ** (t + 2))
            u_product *= u_t
            m += (g - m) * (1 - mu)
            v += (g * g - v) * (1 - 0.999)
            m_hat = u_t_1 * m / (1 - u_product * u_t_1) + (1 - u_t) * g / (
                1 - u_product
            )
            w = w - lr * m_hat / (np.sqrt(v / (1 - 0.999 ** (t + 1))) + 1e-7)
        else:
            alpha = lr * np.sqrt(1 - 0.999 ** (t + 1)) / (1 - mu ** (t + 1))
            m += (g - m) * (1 - mu)
            v += (g * g - v) * (1 - 0.999)
            w = w - alpha * m / (np.sqrt(v) + 1e-7)
        out.append(w.copy())
    return np.array(out)


@pytest.mark.parametrize("optimizer_name", ["sgd", "adam", "nadam"])
@pytest.mark.parametrize("spe", steps_per_execution_values())
def test_one_cycle_cycles_momentum_in_the_compiled_step(optimizer_name, spe, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(0.1, 1.0, size=(STEPS_PER_EPOCH * BATCH, 3)).astype("float32")
    y = np.zeros((len(x), 1), "float32")
    optimizer = {
        "sgd": lambda: keras.optimizers.SGD(0.01, momentum=0.9),
        "adam": lambda: keras.optimizers.Adam(0.01, beta_1=0.9),
        # Nadam multiplies a variable by its beta_1 (`variable * beta_1`).
        "nadam": lambda: keras.optimizers.Nadam(0.01, beta_1=0.9),
    }[optimizer_name]()
    model = probe_model(optimizer, num_inputs=3, steps_per_execution=spe)
    if optimizer_name == "nadam" and BACKEND == "jax":
        with pytest.raises(ValueError, match="Nadam on the JAX backend"):
            model.fit(x, y, batch_size=BATCH, epochs=1, callbacks=[OneCycle(0.3)])
        return
    recorder = KernelRecorder()
    checkpoint = keras.callbacks.ModelCheckpoint(tmp_path / "mid_fit.keras")
    history = model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[OneCycle(0.3), recorder, checkpoint],
    )
    grads = [x[i * BATCH : (i + 1) * BATCH].mean(axis=0) for i in range(8)] * 2
    schedule = OneCycleSchedule(0.3, total_steps=16)
    cycled = simulate(optimizer_name, schedule, grads)[spe - 1 :: spe]
    fixed = simulate(optimizer_name, schedule, grads, cycle=False)[spe - 1 :: spe]
    got = np.array(recorder.kernels)
    np.testing.assert_allclose(got, cycled, rtol=2e-4, atol=1e-5)
    # ...and the cycling is visible: a fixed momentum gives other weights.
    assert np.abs(fixed - cycled).max() > 100 * np.abs(got - cycled).max()
    # Momentum in the logs; compiled momentum back after the fit.
    assert history.history["momentum"][-1] == pytest.approx(0.95, abs=1e-6)
    attribute = "momentum" if optimizer_name == "sgd" else "beta_1"
    assert type(getattr(model.optimizer, attribute)) is float
    assert getattr(model.optimizer, attribute) == 0.9
    # The model saved mid-fit by Keras's ModelCheckpoint, and after it, load.
    for path in [tmp_path / "mid_fit.keras", tmp_path / "after.keras"]:
        if path.name == "after.keras":
            model.save(path)
        loaded = keras.models.load_model(path)
        if BACKEND == "torch" and path.name == "mid_fit.keras":
            # PyTorch's optimizers need the momentum as a number: mid-fit it
            # is the momentum of the last step (documented in OneCycle).
            assert 0.85 <= getattr(loaded.optimizer, attribute) <= 0.95
        else:
            assert getattr(loaded.optimizer, attribute) == pytest.approx(0.9)
        assert isinstance(loaded.optimizer.learning_rate, keras.Variable)
        np.testing.assert_allclose(
            loaded.layers[0].kernel.numpy(), model.layers[0].kernel.numpy()
        )


def test_cycle_momentum_false_leaves_momentum_alone():
    model = probe_model(keras.optimizers.SGD(0.01, momentum=0.9))
    x, y = ones(32)
    history = model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=1,
        verbose=0,
        callbacks=[OneCycle(0.1, cycle_momentum=False)],
    )
    assert "momentum" not in history.history


def test_one_cycle_total_epochs_sets_cycle_length():
    callback = OneCycle(0.5, total_epochs=2, cycle_momentum=False)
    got, _, _ = learning_rates_used(callback, epochs=3)
    schedule = OneCycleSchedule(0.5, total_steps=16)
    # atol: a rate of 2e-7 is below float32 resolution of a kernel near 5.
    np.testing.assert_allclose(
        got, expected_rates(schedule, 0, 24), rtol=1e-4, atol=1e-6
    )


# -------------------------------------------------------------- errors


def fit_with(callback, optimizer):
    model = probe_model(optimizer)
    x, y = ones(8)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[callback])


def test_optimizer_with_a_schedule_is_refused_at_train_begin():
    optimizer = keras.optimizers.SGD(PowerDecay(0.1, 10))
    with pytest.raises(ValueError, match="must be compiled with a float learning rate"):
        fit_with(OneCycle(0.1, cycle_momentum=False), optimizer)


def test_sgd_without_momentum_cannot_cycle_momentum():
    with pytest.raises(ValueError, match=r"SGD compiled with momentum=0"):
        fit_with(OneCycle(0.1), keras.optimizers.SGD(0.01))


def test_optimizer_without_momentum_cannot_cycle_momentum():
    with pytest.raises(ValueError, match=r"Cannot cycle the momentum of RMSprop"):
        fit_with(OneCycle(0.1), keras.optimizers.RMSprop(0.01))


def test_unknown_steps_per_epoch_is_an_error():
    model = probe_model(keras.optimizers.SGD(0.01))

    def batches():
        x, y = ones(4)
        while True:
            yield x, y

    with pytest.raises(ValueError, match=r"Pass `steps_per_epoch` to the callback"):
        model.fit(
            batches(),
            epochs=1,
            steps_per_epoch=None,
            verbose=0,
            callbacks=[PowerScheduling(decay_steps=2)],
        )


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: OneCycle(0), r"`max_learning_rate` must be > 0. Received: max_learn"),
        (lambda: OneCycle(0.1, shape="tri"), r"`shape` must be one of"),
        (lambda: OneCycle(0.1, total_steps=0), r"`total_steps` must be >= 1"),
        (
            lambda: OneCycle(0.1, total_steps=10, total_epochs=2),
            r"Pass `total_steps` or `total_epochs`, not both",
        ),
        (lambda: OneCycle(0.1, max_momentum=1.5), r"`max_momentum` must be >= 0 and"),
        (
            lambda: OneCycle(0.1, max_momentum=0.8, min_momentum=0.9),
            r"`min_momentum` .* must be <= `max_momentum` .* "
            r"Received: min_momentum=0.9, max_momentum=0.8",
        ),
        (lambda: OneCycle(0.1, steps_per_epoch=0), r"`steps_per_epoch` must be >= 1"),
        (
            lambda: PowerScheduling(),
            r"Pass `decay_steps` or `decay_epochs`. Received: decay_steps=None",
        ),
        (lambda: PowerScheduling(decay_epochs=-1), r"`decay_epochs` must be > 0"),
        (lambda: PowerScheduling(-0.1, 10), r"`initial_learning_rate` must be > 0"),
        (lambda: PowerScheduling(decay_steps=5, power=-1), r"`power` must be >= 0"),
        (
            lambda: ExponentialScheduling(decay_steps=5, decay_rate=1.5),
            r"`decay_rate` must be > 0 and <= 1. Received: decay_rate=1.5",
        ),
        (
            lambda: PiecewiseConstantScheduling([1, 2], [0.1, 0.2]),
            r"`values` must have one more element",
        ),
        (
            lambda: PiecewiseConstantScheduling([1], [0.1, 0.2], unit="batch"),
            r"`unit` must be one of 'epoch', 'step'. Received: unit='batch'",
        ),
        (
            lambda: PiecewiseConstantScheduling([1.5], [0.1, 0.2], unit="step"),
            r"`boundaries` must be whole steps",
        ),
        (
            lambda: PiecewiseConstantScheduling([1], [0.1, -0.2]),
            r"`values\[1\]` must be > 0. Received: values\[1\]=-0.2",
        ),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    "callback",
    [
        OneCycle(0.5, cycle_momentum=False),
        PowerScheduling(decay_epochs=0.5),
        ExponentialScheduling(decay_steps=3, decay_rate=0.5),
        PiecewiseConstantScheduling([0.5, 1.25], [0.3, 0.2, 0.1]),
    ],
    ids=lambda c: type(c).__name__,
)
def test_schedule_for_says_before_the_fit_what_the_fit_applies(callback):
    # Asked before any fit, the callback's curves equal the rates the
    # optimizer applied (read from the weights) step by step.
    curves = callback.schedule_for(2, STEPS_PER_EPOCH, compiled_learning_rate=0.01)
    assert curves.momentum is None
    planned = evaluate(curves.learning_rate, np.arange(2 * STEPS_PER_EPOCH))
    used, _, _ = learning_rates_used(callback, epochs=2)
    # atol: float32 resolution of a kernel near 4 (1cycle's last rate is 2e-6).
    np.testing.assert_allclose(used, planned, rtol=1e-5, atol=1e-6)


def test_schedule_for_gives_one_cycle_momentum():
    curves = OneCycle(0.5).schedule_for(4, 10)
    momenta = evaluate(curves.momentum, [0, 11, 39])  # the peak at 0.3 * 40 - 1
    np.testing.assert_allclose(momenta, [0.95, 0.85, 0.95], atol=1e-6)


def test_schedule_for_needs_the_compiled_rate_where_it_starts_from_it():
    with pytest.raises(ValueError, match=r"pass `compiled_learning_rate`"):
        PowerScheduling(decay_epochs=1).schedule_for(2, 10)


@pytest.mark.slow
def test_momentum_is_evaluated_once_per_step_whatever_the_model(monkeypatch):
    # Keras reads the momentum at every use in every variable's update; the
    # schedule must not be evaluated (traced) once per read (docs/benchmarks.md:
    # that made each fit ~0.08 s per variable slower on TensorFlow).
    from keras_recipes.schedules.one_cycle import OneCycleMomentum

    calls = []
    original = OneCycleMomentum.__call__

    def counted(self, step, xp=keras.ops):
        calls.append(1)
        return original(self, step, xp=xp)

    monkeypatch.setattr(OneCycleMomentum, "__call__", counted)

    def evaluations(layers):
        model = keras.Sequential(
            [keras.Input((4,))]
            + [keras.layers.Dense(4) for _ in range(layers)]
            + [keras.layers.Dense(1)]
        )
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        x, y = np.ones((32, 4), "float32"), np.zeros((32, 1), "float32")
        calls.clear()
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[OneCycle(0.1)])
        return len(calls)

    small, large = evaluations(1), evaluations(20)  # 4 and 42 variables
    assert large == small
    assert small <= 4 + 1  # once per step (PyTorch, eager) or per trace
