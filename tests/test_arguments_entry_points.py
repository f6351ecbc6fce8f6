"""Property-based checks of `search`, `diagnose` and the plots' arguments.

As `tests/test_arguments.py` does for the constructors: any value either
works or is refused with `ValueError` / `TypeError` naming the argument,
within a deadline. A valid `search` or `diagnose` runs real trials or
training for minutes, so for them "works" means that every check passed and
the call reached its first piece of work, which the test replaces with a
marker (`Checked`): nothing was made or written before it. The plots are
drawn for real.
"""

import contextlib
from unittest import mock

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from keras_recipes.diagnose.workflow import diagnose
from keras_recipes.fine_tuning import fine_tune
from keras_recipes.lr_finder.result import LRFinderResult
from keras_recipes.plots import (
    plot_learning_curves,
    plot_lr_finder,
    plot_schedule,
    plot_search,
)
from keras_recipes.tuning.search import search
from tests.careless_values import ANYTHING

pytestmark = pytest.mark.backend_independent

SETTINGS = settings(
    max_examples=12,
    deadline=10_000,  # ms
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same examples in every run
)


class Checked(Exception):
    """Raised where the first piece of work would start: the checks passed."""


def named(error, argument):
    return f"`{argument}" in str(error) or f"{argument}=" in str(error)


X = np.random.default_rng(0).normal(size=(20, 4)).astype("float32")
Y = np.arange(20) % 2


def compiled_model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, "softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


SEARCH_ARGUMENTS = (
    "y", "validation_data", "hypermodel", "space", "algorithm", "objective",
    "max_trials", "epochs", "factor", "patience", "directory", "project_name",
    "overwrite", "seed", "executions_per_trial", "callbacks", "log_dir",
    "verbose", "progress", "trial_timeout",
)  # fmt: skip


def call_until_checked(function, marker, kwargs, tmp_path):
    """`function(**kwargs)` with `marker` raising `Checked`; returns the error
    raised (a `Checked` when every check passed)."""
    with mock.patch(marker, side_effect=Checked), pytest.raises(Exception) as caught:
        function(**kwargs)
    assert not any(tmp_path.iterdir()), "something was written before the checks"
    return caught.value


@pytest.mark.parametrize("argument", SEARCH_ARGUMENTS)
@SETTINGS
@given(value=ANYTHING)
def test_search_checks_every_argument_before_any_trial(argument, value, tmp_path):
    valid = {
        "x": X, "y": Y, "validation_data": (X, Y), "max_trials": 1, "epochs": 1,
        "directory": tmp_path / "search",
    }  # fmt: skip
    error = call_until_checked(
        search,
        "keras_recipes.tuning.search.distributed_role",
        {**valid, argument: value},
        tmp_path,
    )
    if not isinstance(error, Checked):
        assert isinstance(error, (ValueError, TypeError)), repr(error)
        assert named(error, argument), f"{argument!r} not named: {error}"


DIAGNOSE_ARGUMENTS = (
    "model", "y", "validation_data", "output_dir", "batch_size", "search_epochs",
    "final_epochs", "overfit_epochs", "verbose",
)  # fmt: skip


@pytest.mark.parametrize("argument", DIAGNOSE_ARGUMENTS)
@SETTINGS
@given(value=ANYTHING)
def test_diagnose_checks_every_argument_before_any_step(argument, value, tmp_path):
    valid = {
        "model": compiled_model(), "x": X, "y": Y, "validation_data": (X, Y),
        "output_dir": tmp_path / "report", "verbose": 0,
    }  # fmt: skip
    error = call_until_checked(
        diagnose,
        "keras_recipes.diagnose.workflow.check_target_scale",
        {**valid, argument: value},
        tmp_path,
    )
    if not isinstance(error, Checked):
        assert isinstance(error, (ValueError, TypeError)), repr(error)
        assert named(error, argument), f"{argument!r} not named: {error}"


FINE_TUNE_ARGUMENTS = (
    "y", "validation_data", "num_classes", "features_layer", "head_epochs",
    "epochs", "learning_rate", "suggestion", "fine_tune_learning_rate",
    "lowest_multiplier", "unfreeze", "head_dropout", "weight_decay", "clipnorm",
    "global_clipnorm", "batch_size", "patience", "log_dir", "seed", "verbose",
    "augment", "monitor",
)  # fmt: skip


@pytest.mark.parametrize("argument", FINE_TUNE_ARGUMENTS)
@SETTINGS
@given(value=ANYTHING)
def test_fine_tune_checks_every_argument_before_loading_the_base(
    argument, value, tmp_path
):
    valid = {
        "base": "pretrained.keras", "x": X, "y": Y, "validation_data": (X, Y),
        "num_classes": 2, "log_dir": tmp_path / "run", "verbose": 0,
    }  # fmt: skip
    error = call_until_checked(
        fine_tune,
        "keras_recipes.fine_tuning.load_base",
        {**valid, argument: value},
        tmp_path,
    )
    if not isinstance(error, Checked):
        assert isinstance(error, (ValueError, TypeError)), repr(error)
        assert named(error, argument), f"{argument!r} not named: {error}"


def test_valid_arguments_pass_every_check(tmp_path):
    for function, marker, valid in (
        (search, "keras_recipes.tuning.search.distributed_role", {}),
        (diagnose, "keras_recipes.diagnose.workflow.check_target_scale",
         {"model": compiled_model(), "verbose": 0}),
    ):  # fmt: skip
        kwargs = {"x": X, "y": Y, "validation_data": (X, Y), **valid}
        if function is search:
            kwargs["directory"] = tmp_path / "search"
        assert isinstance(
            call_until_checked(function, marker, kwargs, tmp_path), Checked
        )


# (function, a bad argument, what the message must say is allowed): each
# check of the entry points; the Hypothesis tests above cannot tell a value
# that passed for lack of a check from one that is valid.
REFUSED = [
    (diagnose, {"model": keras.Sequential([keras.layers.Dense(2)])}, "compiled"),
    (diagnose, {"y": Y[:5]}, "len(y)=5"),
    (diagnose, {"validation_data": X}, "pair"),
    (diagnose, {"batch_size": 0}, ">= 1"),
    (diagnose, {"search_epochs": 2.5}, "int"),
    (diagnose, {"final_epochs": 10**6}, "10,000"),
    (diagnose, {"overfit_epochs": 10**9}, "10,000"),
    (diagnose, {"verbose": 2}, "0, 1"),
    (diagnose, {"output_dir": 3}, "path"),
    (search, {"algorithm": "genetic"}, "'hyperband'"),
    (search, {"verbose": 3}, "'auto'"),
    (search, {"log_dir": 3}, "path"),
    (search, {"hypermodel": "mlp"}, "HyperModel"),
    (search, {"callbacks": ["early"]}, "keras.callbacks.Callback"),
    (search, {"y": Y[:5]}, "len(y)=5"),
    (search, {"validation_data": (X, Y[:3])}, "len(validation_data[1])=3"),
    (search, {"validation_data": (X,)}, "pair"),
]


@pytest.mark.parametrize(("function", "bad", "allowed"), REFUSED)
def test_each_check_of_the_entry_points_refuses(function, bad, allowed, tmp_path):
    valid = {"x": X, "y": Y, "validation_data": (X, Y)}
    if function is diagnose:
        valid.update(model=compiled_model(), verbose=0)
    else:
        valid["directory"] = tmp_path / "search"
    with pytest.raises((ValueError, TypeError)) as caught:
        function(**{**valid, **bad})
    assert named(caught.value, next(iter(bad))), caught.value
    assert allowed in str(caught.value), caught.value
    assert not any(tmp_path.iterdir())


FINDER = LRFinderResult(
    learning_rates=[1e-4, 1e-3, 1e-2, 1e-1],
    losses=[2.3, 2.0, 1.2, 5.0],
    smoothed_losses=[2.3, 2.1, 1.6, 3.0],
)
TRIALS = [
    {"trial_id": "0", "score": 0.8, "hyperparameters": {"learning_rate": 1e-3}},
    {"trial_id": "1", "score": 0.9, "hyperparameters": {"learning_rate": 1e-2}},
]
PLOTS = {
    "plot_learning_curves": (
        plot_learning_curves,
        {"train_loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.6, 0.5]},
        ("train_loss", "val_loss", "path", "window"),
    ),
    "plot_schedule": (
        plot_schedule,
        {"learning_rates": [0.1, 0.2, 0.1], "momenta": [0.9, 0.85, 0.9]},
        ("learning_rates", "momenta", "path", "title", "logged"),
    ),
    "plot_search": (
        plot_search,
        {"trials": TRIALS, "objective": "val_accuracy"},
        ("trials", "objective", "path", "direction"),
    ),
    "plot_lr_finder": (plot_lr_finder, {"result": FINDER}, ("result", "path")),
}
PLOT_REFUSED = [
    (plot_learning_curves, {"val_loss": [1.0]}, "as many values as `train_loss` (3)"),
    (plot_learning_curves, {"train_loss": "abc"}, "sequence of numbers"),
    (plot_learning_curves, {"window": 0}, ">= 1"),
    (plot_schedule, {"momenta": [0.9]}, "as many values as `learning_rates`"),
    (plot_schedule, {"learning_rates": []}, "at least one value"),
    (plot_schedule, {"title": 3}, "str"),
    (plot_schedule, {"logged": ([1, 2], [0.1])}, "as many values"),
    (plot_search, {"trials": [{"score": 1}]}, "trial_id"),
    (plot_search, {"objective": None}, "metric name"),
    (plot_search, {"direction": "up"}, "'max', 'min'"),
    (plot_lr_finder, {"result": {"losses": []}}, "LRFinderResult"),
    (plot_lr_finder, {"path": "lr.txt"}, ".png"),
]


@pytest.mark.parametrize(("function", "bad", "allowed"), PLOT_REFUSED)
def test_each_check_of_the_plots_refuses(function, bad, allowed, tmp_path):
    valid = next(v for f, v, _ in PLOTS.values() if f is function)
    with pytest.raises((ValueError, TypeError)) as caught, contextlib.chdir(tmp_path):
        function(**{**valid, "path": tmp_path / "figure.png", **bad})
    assert named(caught.value, next(iter(bad))), caught.value
    assert allowed in str(caught.value), caught.value
    assert not any(tmp_path.iterdir())


PLOT_CASES = [(name, a) for name, (_, _, arguments) in PLOTS.items() for a in arguments]


@pytest.mark.parametrize(("name", "argument"), PLOT_CASES)
@settings(SETTINGS, max_examples=8)
@given(value=ANYTHING)
def test_a_plot_draws_or_refuses_naming_the_argument(name, argument, value, tmp_path):
    function, valid, _ = PLOTS[name]
    tmp_path = tmp_path / str(PLOT_CASES.index((name, argument)))
    tmp_path.mkdir(exist_ok=True)
    kwargs = {**valid, "path": tmp_path / "figure.png", argument: value}
    try:
        with contextlib.chdir(tmp_path):  # A relative path lands there.
            written = function(**kwargs)
    except (ValueError, TypeError) as error:
        assert named(error, argument), f"{argument!r} not named: {error}"
    else:
        assert written.stat().st_size > 0
