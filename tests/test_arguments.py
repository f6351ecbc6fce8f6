"""Property-based checks of every public constructor's arguments (Hypothesis).

For each argument of each public callable, with the others valid, any value
either works or raises `ValueError` / `TypeError` whose message names the
argument (as `name`); and a value of the wrong kind (a float where an
integer belongs, anything but True/False for a flag, anything but a path for
a path) is refused with `TypeError`. Nothing may fail deeper (an
`IndexError` from Keras, a pathlib `TypeError`) or run past the deadline.
"""

import inspect

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import keras_recipes as kr
from tests.careless_values import ANYTHING

pytestmark = pytest.mark.backend_independent

# Any value a careless call could pass.
NOT_BOOL = ANYTHING.filter(lambda v: not isinstance(v, bool))
NOT_INT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.just(2.7),
    st.just(2.0),
    st.just("3"),
    st.just(True),
    st.just([1]),
)
NOT_PATH = st.one_of(st.none(), st.integers(), st.floats(), st.just(["a"]), st.just(""))

X = np.zeros((4, 3), "float32")
Y = np.zeros(4, "int32")

# name -> (callable, valid keyword arguments, {argument: kind}); kinds:
# "int", "bool", "path", or None (anything may be tried).
CALLABLES = {
    "OneCycle": (
        kr.OneCycle,
        {"max_learning_rate": 0.1},
        {
            "max_learning_rate": None,
            "total_steps": "int",
            "total_epochs": "int",
            "shape": None,
            "pct_start": None,
            "div_factor": None,
            "final_div_factor": None,
            "cycle_momentum": "bool",
            "max_momentum": None,
            "min_momentum": None,
            "steps_per_epoch": "int",
            "log_dir": "path",
            "optimizers": None,
        },
    ),
    "PowerScheduling": (
        kr.PowerScheduling,
        {"decay_epochs": 2},
        {"initial_learning_rate": None, "decay_steps": "int", "decay_epochs": None,
         "power": None,
         "steps_per_epoch": "int", "log_dir": "path", "optimizers": None},
    ),
    "ExponentialScheduling": (
        kr.ExponentialScheduling,
        {"decay_epochs": 2},
        {"initial_learning_rate": None, "decay_steps": "int", "decay_epochs": None,
         "decay_rate": None,
         "staircase": "bool", "steps_per_epoch": "int", "log_dir": "path",
         "optimizers": None},
    ),
    "PiecewiseConstantScheduling": (
        kr.PiecewiseConstantScheduling,
        {"boundaries": [2, 4], "values": [0.1, 0.01, 0.001]},
        {"boundaries": None, "values": None, "unit": None, "steps_per_epoch": "int",
         "log_dir": "path", "optimizers": None},
    ),
    "PerformanceScheduling": (
        kr.PerformanceScheduling,
        {},
        {"monitor": None, "factor": None, "patience": "int", "mode": None,
         "min_delta": None, "cooldown": "int", "min_learning_rate": None,
         "verbose": None},
    ),
    "EarlyStopping": (
        kr.EarlyStopping,
        {},
        {"monitor": None, "mode": None, "min_delta": None, "patience": "int",
         "baseline": None, "start_from_epoch": "int", "restore_best_weights": "bool",
         "check_finite": "bool", "stopping_threshold": None,
         "divergence_threshold": None, "verbose": None},
    ),
    "BestCheckpoint": (
        kr.BestCheckpoint,
        {"filepath": "ckpt/model.keras"},
        {"filepath": "path", "monitor": None, "mode": None, "min_delta": None,
         "save_top_k": "int", "save_last": "bool", "save_weights_only": "bool",
         "manifest": None, "verbose": None, "save_best_only": "bool",
         "initial_value_threshold": None, "save_freq": None, "existing": None,
         "save_on_background": "bool"},
    ),
    "ResumableBackup": (
        kr.ResumableBackup,
        {"backup_dir": "backup"},
        {"backup_dir": "path", "callbacks": None, "delete_on_completion": "bool",
         "save_on_background": "bool"},
    ),
    "NaNGuard": (
        kr.NaNGuard, {}, {"check_every": "int", "copy_budget": None, "verbose": None}
    ),
    "GradientMonitor": (
        kr.GradientMonitor,
        {"probe_data": (X, Y)},
        {"probe_data": None, "every": "int", "vanishing_ratio": None,
         "vanishing_threshold": None, "exploding_threshold": None, "log_dir": "path",
         "verbose": None},
    ),
    "ActivationMonitor": (
        kr.ActivationMonitor,
        {"probe_x": X},
        {"probe_x": None, "every": "int", "saturation_margin": None, "verbose": None},
    ),
    "LRFinder": (
        kr.LRFinder,
        {},
        {"min_learning_rate": None, "max_learning_rate": None, "num_steps": "int",
         "mode": None, "divergence_threshold": None, "beta": None, "method": None,
         "validation_data": None, "verbose": None},
    ),
    "build_mlp": (
        kr.build_mlp,
        {"input_shape": (3,), "num_outputs": 2},
        {"input_shape": None, "num_outputs": "int", "hidden_layers": "int",
         "units": None, "activation": None, "batch_norm": "bool", "dropout": None,
         "l1": None, "l2": None, "max_norm": None, "kernel_initializer": None,
         "output_activation": None, "name": None},
    ),
    "build_cnn": (
        kr.build_cnn,
        {"input_shape": (8, 8, 1), "num_outputs": 2},
        {"input_shape": None, "num_outputs": "int", "filters": None,
         "kernel_size": "int", "dense_units": "int", "activation": None,
         "batch_norm": "bool", "dropout": None, "l2": None,
         "kernel_initializer": None, "output_activation": None, "augment": None,
         "name": None},
    ),
}  # fmt: skip


def test_every_argument_of_each_callable_is_checked():
    # A new argument joins the tables above, or this fails.
    for name, (function, _, kinds) in CALLABLES.items():
        parameters = inspect.signature(function).parameters.values()
        named = {p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD}
        assert named <= set(kinds), (name, sorted(named - set(kinds)))


CASES = [
    (name, argument) for name, (_, _, kinds) in CALLABLES.items() for argument in kinds
]
SETTINGS = settings(
    max_examples=15,
    deadline=10_000,  # ms: a call that would run for ever fails (loaded CI too)
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same examples in every run: no flaky CI
)


def call(name, argument, value, tmp_path):
    function, valid, _ = CALLABLES[name]
    kwargs = dict(valid)
    kwargs[argument] = value
    for key in ("filepath", "backup_dir", "log_dir"):
        if (
            key in kwargs
            and kwargs[key] is valid.get(key)
            and isinstance(kwargs[key], str)
        ):
            kwargs[key] = str(tmp_path / kwargs[key])
    return function(**kwargs)


def assert_names(error, argument):
    assert f"`{argument}" in str(error) or f"{argument}=" in str(error), (
        f"the message does not name {argument!r}: {error}"
    )


@pytest.mark.parametrize(("name", "argument"), CASES)
@SETTINGS
@given(value=ANYTHING)
@pytest.mark.slow
def test_any_value_works_or_is_refused_naming_the_argument(
    name, argument, value, tmp_path
):
    try:
        call(name, argument, value, tmp_path)
    except (ValueError, TypeError) as error:
        assert_names(error, argument)


KIND_CASES = [
    (n, a, k) for n, (_, _, kinds) in CALLABLES.items() for a, k in kinds.items() if k
]


@pytest.mark.parametrize(("name", "argument", "kind"), KIND_CASES)
@SETTINGS
@given(data=st.data())
def test_a_value_of_the_wrong_kind_is_a_type_error(
    name, argument, kind, data, tmp_path
):
    value = data.draw({"int": NOT_INT, "bool": NOT_BOOL, "path": NOT_PATH}[kind])
    if kind in ("int", "path") and value is None:
        return  # None means "not given" for these optional arguments.
    with pytest.raises((TypeError, ValueError)) as caught:
        call(name, argument, value, tmp_path)
    assert_names(caught.value, argument)
    if kind != "path" or value != "":
        assert caught.type is TypeError, caught.value


@pytest.mark.parametrize(
    ("template", "field"),
    [("ckpt/{}.keras", "{}"), ("ckpt/{0}.keras", "{0}"), ("ckpt/{epoch:q}.keras", "")],
)
def test_a_checkpoint_template_is_checked_at_construction(template, field, tmp_path):
    with pytest.raises(ValueError, match="`filepath`") as caught:
        kr.BestCheckpoint(str(tmp_path / template))
    assert field in str(caught.value)
