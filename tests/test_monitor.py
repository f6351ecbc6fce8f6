import math

import pytest

from keras_recipes.callbacks._monitor import Monitor, resolve_mode


@pytest.mark.parametrize(
    "monitor, expected",
    [
        ("val_loss", "min"),
        ("loss", "min"),
        ("val_mean_absolute_error", "min"),
        ("val_accuracy", "max"),
        ("sparse_categorical_accuracy", "max"),
        ("val_auc", "max"),
    ],
)
def test_auto_mode_from_name(monitor, expected):
    assert resolve_mode(monitor, "auto") == expected


@pytest.mark.parametrize(
    "sequence", [[math.nan, 0.5, 0.4, 0.3], [math.inf, 0.5, 0.4, 0.3]]
)
def test_non_finite_first_value_never_becomes_best(sequence):
    monitor = Monitor("val_loss")
    improvements = [monitor.update(v) for v in sequence]
    assert improvements == [False, True, True, True]
    assert monitor.best == 0.3


def test_min_delta_and_max_mode():
    monitor = Monitor("val_accuracy", min_delta=0.01)
    assert monitor.update(0.5)
    assert not monitor.update(0.505)
    assert monitor.update(0.52)
    assert not monitor.update(math.nan)
    assert monitor.best == 0.52


def test_missing_key_lists_available_keys():
    with pytest.raises(ValueError, match=r"Available keys: accuracy, loss\."):
        Monitor("val_loss", owner="X").value({"loss": 1.0, "accuracy": 0.5})
