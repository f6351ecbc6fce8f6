"""Scheduling callbacks by name, with the recipes' defaults."""

from keras_recipes._validation import check_choice, check_number, check_positive_int
from keras_recipes.callbacks._driver import cycle_momentum_error
from keras_recipes.callbacks.exponential_scheduling import ExponentialScheduling
from keras_recipes.callbacks.one_cycle import OneCycle
from keras_recipes.callbacks.performance_scheduling import PerformanceScheduling
from keras_recipes.callbacks.piecewise_constant_scheduling import (
    PiecewiseConstantScheduling,
)
from keras_recipes.callbacks.power_scheduling import PowerScheduling

SCHEDULE_NAMES = (
    "none",
    "power",
    "exponential",
    "piecewise",
    "performance",
    "one-cycle",
)


def scheduling_callback(
    name, learning_rate, epochs, optimizer=None, monitor="val_loss", **options
):
    """The scheduling callback `name`, set up for a fit of `epochs` epochs.

    The defaults the recipes and the tuner use, all starting from (or, for
    1cycle, peaking at) `learning_rate`:

    | name | schedule |
    |---|---|
    | `"none"` | constant: returns `None` |
    | `"power"` | `lr / (1 + t / (epochs / 4))`: a fifth of `lr` at the end |
    | `"exponential"` | `lr * 0.1 ** (t / epochs)`: `lr / 10` at the end |
    | `"piecewise"` | `lr`, `lr / 10` from half-way, `lr / 100` from 3/4 |
    | `"performance"` | halve when `monitor` has not improved for 2 epochs |
    | `"one-cycle"` | 1cycle peaking at `lr`, momentum cycled where it can be |

    Args:
        name: One of `SCHEDULE_NAMES`.
        learning_rate: The initial (or peak) learning rate, > 0.
        epochs: The epochs of the fit, > 0.
        optimizer: The optimizer the callback will drive, if known: 1cycle
            then cycles the momentum only if it has one (SGD with momentum,
            the Adam family; see `OneCycle`); without it, the momentum is
            always cycled.
        monitor: What `"performance"` watches (`"loss"` without validation
            data).
        **options: Arguments of the callback's constructor that replace the
            defaults above (e.g. `power=2`, `decay_rate=0.5`, `pct_start=0.3`);
            the callback checks them.

    Returns:
        A fresh callback, or `None` for `"none"`.

    Raises:
        ValueError: On a bad argument (also from the callback).
        TypeError: On an option the callback does not take.

    Example:

    >>> callback = scheduling_callback("one-cycle", 3e-3, epochs=15)
    >>> model.fit(x, y, epochs=15, callbacks=[callback])
    """
    check_choice("name", name, SCHEDULE_NAMES)
    learning_rate = check_number("learning_rate", learning_rate, low=0, low_open=True)
    epochs = check_positive_int("epochs", epochs)
    if name == "one-cycle":
        cycle_momentum = optimizer is None or cycle_momentum_error(optimizer) is None
        defaults = dict(
            max_learning_rate=learning_rate,
            total_epochs=epochs,
            cycle_momentum=cycle_momentum,
        )
        return OneCycle(**{**defaults, **options})
    if name == "power":
        defaults = dict(decay_epochs=epochs / 4)
        return PowerScheduling(learning_rate, **{**defaults, **options})
    if name == "exponential":
        defaults = dict(decay_epochs=epochs)
        return ExponentialScheduling(learning_rate, **{**defaults, **options})
    if name == "piecewise":
        defaults = dict(
            boundaries=[epochs / 2, 3 * epochs / 4],
            values=[learning_rate, learning_rate / 10, learning_rate / 100],
        )
        return PiecewiseConstantScheduling(**{**defaults, **options})
    if name == "performance":
        defaults = dict(monitor=monitor, factor=0.5, patience=2)
        return PerformanceScheduling(**{**defaults, **options})
    if options:
        raise TypeError(
            f"The schedule 'none' takes no options. Received: {sorted(options)}"
        )
    return None
