"""Scheduling callbacks by name, with the recipes' defaults."""

from keras_recipes._internal.driver import cycle_momentum_error
from keras_recipes._internal.validation import (
    check_choice,
    check_number,
    check_positive_int,
)
from keras_recipes.callbacks.exponential_scheduling import ExponentialScheduling
from keras_recipes.callbacks.one_cycle import OneCycle
from keras_recipes.callbacks.performance_scheduling import PerformanceScheduling
from keras_recipes.callbacks.piecewise_constant_scheduling import (
    PiecewiseConstantScheduling,
)
from keras_recipes.callbacks.power_scheduling import PowerScheduling
from keras_recipes.schedules.factory import SCHEDULE_NAMES, recipe_defaults

CALLBACKS = {
    "power": PowerScheduling,
    "exponential": ExponentialScheduling,
    "piecewise": PiecewiseConstantScheduling,
    "performance": PerformanceScheduling,
    "one-cycle": OneCycle,
}


def scheduling_callback(
    name, learning_rate, epochs, optimizer=None, monitor="val_loss", **options
):
    """The scheduling callback `name`, set up for a fit of `epochs` epochs.

    With the defaults the recipes and the tuner use
    (`keras_recipes.schedules.recipe_defaults`), all starting from (or, for
    1cycle, peaking at) `learning_rate`: power decay to a fifth, exponential
    decay to a tenth, piecewise `lr`, `lr / 10` from half-way and `lr / 100`
    from 3/4, performance scheduling halving after 2 epochs without
    improvement, and 1cycle over the whole fit, its momentum cycled where the
    optimizer has one.

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
    if name == "none":
        if options:
            raise TypeError(
                f"The schedule 'none' takes no options. Received: {sorted(options)}"
            )
        return None
    defaults = recipe_defaults(name, learning_rate, epochs)
    if name == "one-cycle":
        defaults["cycle_momentum"] = (
            optimizer is None or cycle_momentum_error(optimizer) is None
        )
    if name == "performance":
        defaults["monitor"] = monitor
    return CALLBACKS[name](**{**defaults, **options})
