"""Property-based checks of the public functions' arguments (Hypothesis).

As `tests/test_arguments.py` does for the constructors: any value works or is
refused with `ValueError` / `TypeError` naming the argument, within a
deadline; the functions here are the schedule factory, the scheduling
callback by name, the data loader and the finder's checks that come before
any training.
"""

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import keras_recipes as kr
from keras_recipes.callbacks.by_name import scheduling_callback
from keras_recipes.data import load_dataset
from keras_recipes.lr_finder.find import find_learning_rate
from keras_recipes.optimizers import make_optimizer
from keras_recipes.schedules import build_schedule
from keras_recipes.trained import load_classifier
from tests.careless_values import ANYTHING

pytestmark = pytest.mark.backend_independent

IMAGE_MODEL = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten()])
DROPOUT_MODEL = keras.Sequential(
    [keras.Input((3,)), keras.layers.Dropout(0.5, seed=1), keras.layers.Dense(2)]
)

SETTINGS = settings(
    max_examples=15,
    deadline=10_000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)

FUNCTIONS = {
    "build_schedule": (
        build_schedule,
        {"name": "one-cycle", "learning_rate": 0.1, "fit_steps": 100,
         "steps_per_epoch": 10},
        ["name", "learning_rate", "fit_steps", "steps_per_epoch"],
    ),
    "scheduling_callback": (
        scheduling_callback,
        {"name": "exponential", "learning_rate": 0.1, "epochs": 5},
        ["name", "learning_rate", "epochs", "monitor"],
    ),
    "load_dataset": (
        load_dataset,
        {"source": "digits"},
        ["validation_fraction", "test_fraction", "seed"],
    ),
    "LinearWarmup": (
        kr.LinearWarmup,
        {"after": 0.1, "warmup_steps": 10},
        ["after", "warmup_steps", "initial_learning_rate", "name"],
    ),
    "OneCycleSchedule": (
        kr.OneCycleSchedule,
        {"max_learning_rate": 0.1, "total_steps": 100},
        ["max_learning_rate", "total_steps", "shape", "pct_start", "div_factor",
         "final_div_factor", "name"],
    ),
    "PowerDecay": (
        kr.PowerDecay,
        {"initial_learning_rate": 0.1, "decay_steps": 10},
        ["initial_learning_rate", "decay_steps", "power", "name"],
    ),
    "ScaledSchedule": (
        kr.ScaledSchedule,
        {"schedule": kr.PowerDecay(0.1, 10), "factor": 0.5},
        ["schedule", "factor", "name"],
    ),
    "ShuffledBatches": (
        kr.ShuffledBatches,
        {"x": np.zeros((10, 2), "float32"), "y": np.zeros(10), "batch_size": 4},
        ["x", "y", "batch_size", "seed"],
    ),
    "initializer_for": (kr.initializer_for, {"activation": "relu"}, ["activation"]),
    "load_classifier": (load_classifier, {"run_dir": "no-such-run"}, ["run_dir"]),
    "DiscriminativeOptimizer": (
        kr.DiscriminativeOptimizer,
        {"optimizer": keras.optimizers.SGD(), "groups": [("dense", 0.1)]},
        ["optimizer", "groups", "default"],
    ),
    "make_optimizer": (
        make_optimizer,
        {"name": "adam"},
        ["name", "learning_rate", "momentum", "weight_decay", "clipnorm",
         "global_clipnorm"],
    ),
    "tta_predict": (
        kr.tta_predict,
        {"model": IMAGE_MODEL, "x": np.zeros((2, 4, 4, 1), "float32")},
        ["x", "shift", "flip", "batch_size"],
    ),
    "mc_dropout_predict": (
        kr.mc_dropout_predict,
        {"model": DROPOUT_MODEL, "x": np.zeros((2, 3), "float32"), "samples": 2},
        ["model", "samples", "batch_size"],
    ),
}  # fmt: skip
CASES = [(name, arg) for name, (_, _, args) in FUNCTIONS.items() for arg in args]


def named(error, argument):
    return f"`{argument}" in str(error) or f"{argument}=" in str(error)


@pytest.mark.parametrize(("name", "argument"), CASES)
@SETTINGS
@given(value=ANYTHING)
def test_any_value_works_or_is_refused_naming_the_argument(name, argument, value):
    function, valid, _ = FUNCTIONS[name]
    try:
        function(**{**valid, argument: value})
    except (ValueError, TypeError) as error:
        assert named(error, argument), f"{argument!r} not named: {error}"


@pytest.mark.parametrize(
    ("argument", "value"),
    [(a, v) for a in ("num_steps", "batch_size") for v in (0, -1, 2.5, "8", True)]
    + [("num_steps", 10**30)],
)
def test_the_finder_refuses_a_bad_count_before_training(argument, value):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((8, 2), "float32")
    with pytest.raises((ValueError, TypeError)) as caught:
        find_learning_rate(model, x, x[:, :1], verbose=0, **{argument: value})
    assert named(caught.value, argument)
