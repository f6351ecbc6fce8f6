import math

import keras
import numpy as np
import pytest

from keras_recipes.schedules import (
    LinearWarmup,
    OneCycleSchedule,
    PowerDecay,
    ScaledSchedule,
    piecewise_constant_by_epoch,
)
from tests.conftest import mean_prediction  # noqa: F401 (registers the loss)


def values(schedule, steps):
    return np.array([float(keras.ops.convert_to_numpy(schedule(s))) for s in steps])


# ---------------------------------------------------------------- PowerDecay


@pytest.mark.parametrize("power", [0.5, 1.0, 2.0])
def test_power_decay_matches_formula(power):
    schedule = PowerDecay(0.2, decay_steps=10, power=power)
    steps = [0, 1, 10, 20, 35, 1000]
    expected = [0.2 / (1 + s / 10) ** power for s in steps]
    np.testing.assert_allclose(values(schedule, steps), expected, rtol=1e-6)


def test_power_decay_halves_after_decay_steps():
    np.testing.assert_allclose(values(PowerDecay(0.01, 100), [100]), [0.005], rtol=1e-6)


# ----------------------------------------------------------- OneCycleSchedule


def test_one_cycle_cosine_defaults_at_boundaries():
    # PyTorch's defaults and phase ends: the peak at step 0.3 T - 1, the end
    # (start / 1e4) at step T - 1.
    schedule = OneCycleSchedule(max_learning_rate=1.0, total_steps=1001)
    start, end = 1.0 / 25, 1.0 / 25 / 1e4
    assert schedule.pct_start == 0.3
    np.testing.assert_allclose(
        values(schedule, [0, 149.65, 299.3, 649.65, 1000, 5000]),
        [start, (start + 1.0) / 2, 1.0, (1.0 + end) / 2, end, end],
        rtol=1e-5,
    )


def test_one_cycle_cosine_is_cosine_between_boundaries():
    schedule = OneCycleSchedule(0.5, total_steps=100, pct_start=0.3)
    start, end = 0.5 / 25, 0.5 / 25 / 1e4
    steps = np.arange(0, 101)
    rising = start + (0.5 - start) * (1 - np.cos(np.pi * steps / 29)) / 2
    falling = end + (0.5 - end) * (1 + np.cos(np.pi * (steps - 29) / 70)) / 2
    expected = np.where(steps <= 29, rising, np.where(steps <= 99, falling, end))
    np.testing.assert_allclose(values(schedule, steps), expected, rtol=1e-4, atol=1e-9)


def test_one_cycle_linear_three_phases():
    schedule = OneCycleSchedule(1.0, total_steps=1001, shape="linear")
    start, end = 0.1, 0.1 / 1000
    # Phase ends (PyTorch's three_phase): 0.45 T - 1, 0.9 T - 2, T - 1.
    peak, back = 0.45 * 1001 - 1, 0.9 * 1001 - 2
    np.testing.assert_allclose(
        values(schedule, [0, peak / 2, peak, (peak + back) / 2, back, 1000, 1200]),
        [start, 0.55, 1.0, 0.55, start, end, end],
        rtol=1e-5,
    )


@pytest.mark.backend_independent
@pytest.mark.parametrize(
    "shape, options",
    [
        ("cosine", {}),
        ("cosine", {"pct_start": 0.25, "div_factor": 10, "final_div_factor": 1e3}),
        ("linear", {"pct_start": 0.45, "div_factor": 10, "final_div_factor": 1e3}),
    ],
)
@pytest.mark.parametrize("total_steps", [10, 37, 1000])
@pytest.mark.slow
def test_one_cycle_is_pytorch_one_cycle_lr_step_for_step(shape, options, total_steps):
    import torch

    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=0.5,
        total_steps=total_steps,
        anneal_strategy="cos" if shape == "cosine" else "linear",
        three_phase=shape == "linear",
        **options,
    )
    torch_rates, torch_momenta = [], []
    for _ in range(total_steps):
        torch_rates.append(optimizer.param_groups[0]["lr"])
        torch_momenta.append(optimizer.param_groups[0]["momentum"])
        optimizer.step()
        scheduler.step()
    ours = OneCycleSchedule(0.5, total_steps, shape=shape, **options)
    steps = np.arange(total_steps)
    # float32 against float64: 1e-9 absolute at the tail of the cosine.
    np.testing.assert_allclose(ours(steps, xp=np), torch_rates, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(ours.momentum(steps, xp=np), torch_momenta, rtol=1e-6)


@pytest.mark.parametrize("shape", ["cosine", "linear"])
def test_one_cycle_momentum_is_inverse_of_learning_rate(shape):
    schedule = OneCycleSchedule(1.0, total_steps=200, shape=shape)
    steps = np.arange(0, 201)
    lr = values(schedule, steps)
    momentum = np.array(
        [
            float(schedule.momentum(s, max_momentum=0.95, min_momentum=0.85))
            for s in steps
        ]
    )
    peak = int(np.argmax(lr))
    assert momentum[0] == pytest.approx(0.95)
    assert momentum[peak] == pytest.approx(0.85)
    assert momentum[-1] == pytest.approx(0.95)
    # Momentum moves against the learning rate in the rising and falling phases.
    rising = slice(0, peak)
    assert np.all(np.diff(lr[rising]) > 0) and np.all(np.diff(momentum[rising]) < 0)


# ------------------------------------------------------------- LinearWarmup


def test_linear_warmup_then_schedule_sees_its_own_steps():
    after = PowerDecay(0.1, decay_steps=10)
    schedule = LinearWarmup(after, warmup_steps=20, initial_learning_rate=0.0)
    np.testing.assert_allclose(
        values(schedule, [0, 5, 10, 20, 30]),
        [0.0, 0.025, 0.05, 0.1, 0.1 / 2],
        rtol=1e-6,
    )


def test_linear_warmup_to_a_constant():
    schedule = LinearWarmup(0.3, warmup_steps=3, initial_learning_rate=0.03)
    np.testing.assert_allclose(
        values(schedule, [0, 1, 3, 100]), [0.03, 0.12, 0.3, 0.3], rtol=1e-6
    )


def test_scaled_schedule():
    base = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    np.testing.assert_allclose(
        values(ScaledSchedule(base, 0.25), [0, 10]), [0.025, 0.0125], rtol=1e-6
    )


def test_piecewise_constant_by_epoch_converts_boundaries():
    schedule = piecewise_constant_by_epoch([1.5, 3], [0.1, 0.01, 0.001], 10)
    # Keras switches after a boundary: epoch 1.5 begins at step 15.
    assert schedule.boundaries == [14, 29]
    np.testing.assert_allclose(
        values(schedule, [0, 14, 15, 16, 29, 30]),
        [0.1, 0.1, 0.01, 0.01, 0.01, 0.001],
        rtol=1e-6,
    )


# --------------------------------------------------------- save / load


ALL_SCHEDULES = [
    PowerDecay(0.05, decay_steps=7, power=1.5),
    OneCycleSchedule(0.3, total_steps=40),
    OneCycleSchedule(0.3, total_steps=40, shape="linear", pct_start=0.3),
    LinearWarmup(OneCycleSchedule(0.2, total_steps=30), warmup_steps=5),
    ScaledSchedule(PowerDecay(0.05, 10), 0.5),
]


@pytest.mark.parametrize("schedule", ALL_SCHEDULES, ids=lambda s: type(s).__name__)
def test_config_round_trip(schedule):
    config = keras.optimizers.schedules.serialize(schedule)
    restored = keras.optimizers.schedules.deserialize(config)
    assert type(restored) is type(schedule)
    steps = [0, 3, 11, 29, 50]
    np.testing.assert_allclose(values(restored, steps), values(schedule, steps))


@pytest.mark.parametrize("schedule", ALL_SCHEDULES, ids=lambda s: type(s).__name__)
def test_model_with_schedule_saves_and_loads(tmp_path, schedule):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(schedule), loss="mse")
    x, y = np.ones((12, 3), "float32"), np.zeros((12, 2), "float32")
    model.fit(x, y, batch_size=4, epochs=2, verbose=0)  # 6 optimizer steps
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # no custom_objects
    assert int(loaded.optimizer.iterations.numpy()) == 6
    assert float(loaded.optimizer.learning_rate) == pytest.approx(
        float(model.optimizer.learning_rate), rel=1e-6
    )
    assert float(loaded.optimizer.learning_rate) == pytest.approx(
        float(schedule(6)), rel=1e-6
    )


# -------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: PowerDecay(0, 10), r"`initial_learning_rate` must be > 0. Received: "),
        (
            lambda: PowerDecay(0.1, 0),
            r"`decay_steps` must be > 0. Received: decay_steps",
        ),
        (lambda: PowerDecay(0.1, 10, -1), r"`power` must be >= 0. Received: power=-1"),
        (lambda: PowerDecay(0.1, math.inf), r"`decay_steps` must be finite"),
        (lambda: OneCycleSchedule(-1, 10), r"`max_learning_rate` must be > 0"),
        (
            lambda: OneCycleSchedule(1, 0),
            r"`total_steps` must be >= 1. Received: total",
        ),
        (
            lambda: OneCycleSchedule(1, 10, shape="triangle"),
            r"`shape` must be one of 'cosine', 'linear'. Received: shape='triangle'",
        ),
        (
            lambda: OneCycleSchedule(1, 10, pct_start=1.0),
            r"`pct_start` must be > 0 and < 1. Received: pct_start=1.0",
        ),
        (
            lambda: OneCycleSchedule(1, 10, shape="linear", pct_start=0.6),
            r"`pct_start` must be > 0 and <= 0.5. Received: pct_start=0.6",
        ),
        (lambda: OneCycleSchedule(1, 10, div_factor=0), r"`div_factor` must be > 0"),
        (
            lambda: OneCycleSchedule(1, 10, final_div_factor=-2),
            r"`final_div_factor` must be > 0",
        ),
        (lambda: LinearWarmup(0.1, 0), r"`warmup_steps` must be >= 1"),
        (lambda: LinearWarmup(-0.1, 5), r"`after` must be > 0. Received: after=-0.1"),
        (
            lambda: LinearWarmup(0.1, 5, initial_learning_rate=-1),
            r"`initial_learning_rate` must be >= 0",
        ),
        (lambda: ScaledSchedule(PowerDecay(0.1, 1), 0), r"`factor` must be > 0"),
        (
            lambda: piecewise_constant_by_epoch([2, 1], [1, 2, 3], 10),
            r"`boundaries` must be strictly increasing",
        ),
        (
            lambda: piecewise_constant_by_epoch([1], [1], 10),
            r"`values` must have one more element than `boundaries`",
        ),
        (
            lambda: piecewise_constant_by_epoch([1.0, 1.01], [1, 2, 3], 10),
            r"`boundaries` fall on the same step",
        ),
    ],
)
def test_value_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: PowerDecay("0.1", 10), r"`initial_learning_rate` must be a number"),
        (lambda: OneCycleSchedule(1.0, 10.5), r"`total_steps` must be an integer"),
        (lambda: LinearWarmup("fast", 10), r"`after` must be a number"),
        (lambda: ScaledSchedule(0.1, 0.5), r"`schedule` must be a keras.optimizers"),
    ],
)
def test_type_errors(make, match):
    with pytest.raises(TypeError, match=match):
        make()


@pytest.mark.parametrize(
    "name, options, match",
    [
        ("exponential", {"decay_steps": 10, "decay_rate": 5}, r"`decay_rate` must be"),
        ("exponential", {"decay_steps": 5, "decay_epochs": 1}, r"not both"),
        ("power", {}, r"Pass `decay_steps` or `decay_epochs`"),
        ("power", {"decay_steps": 5, "power": -1}, r"`power` must be >= 0"),
        ("piecewise", {"boundaries": [2, 1], "values": [1, 2, 3]}, r"increasing"),
        ("piecewise", {"boundaries": [1], "values": [1, 2], "unit": "epochs"},
         r"`unit` must be one of"),
        ("one-cycle", {"min_momentum": 0.99},
         r"`min_momentum` .* must be <= `max_momentum`"),
        ("performance", {}, r"`name` must be one of 'power'"),
    ],
)  # fmt: skip
def test_build_schedule_checks_its_options(name, options, match):
    from keras_recipes.schedules import build_schedule

    with pytest.raises(ValueError, match=match):
        build_schedule(name, 0.1, fit_steps=100, steps_per_epoch=10, **options)
