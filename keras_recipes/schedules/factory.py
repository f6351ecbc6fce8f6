"""Schedules by name: the one place that builds them, and the recipes' defaults.

`build_schedule` turns a name and the options of the matching scheduling
callback into what the optimizer follows (`ScheduleCurves`). The scheduling
callbacks, `keras-recipes train`, the schedule preview and the search space
all build their schedules here, so a schedule and its plot cannot disagree.
"""

from dataclasses import dataclass

import keras

# Defined with the command line's other names; re-exported here.
from keras_recipes._internal.names import (  # noqa: F401
    EXPONENTIAL_DECAY_RATE,
    IN_GRAPH_SCHEDULES,
    SCHEDULE_NAMES,
)
from keras_recipes._internal.validation import (
    check_choice,
    check_number,
    check_positive_int,
)
from keras_recipes.schedules.by_epoch import (
    check_piecewise,
    piecewise_constant_by_epoch,
)
from keras_recipes.schedules.one_cycle import (
    MAX_MOMENTUM,
    MIN_MOMENTUM,
    OneCycleSchedule,
)
from keras_recipes.schedules.power_decay import PowerDecay


@dataclass(frozen=True)
class ScheduleCurves:
    """What an optimizer follows, as functions of the schedule position.

    Attributes:
        learning_rate: A `keras.optimizers.schedules.LearningRateSchedule`.
        momentum: A function of the step giving the momentum
            (`OneCycleMomentum`), or `None` where the momentum is not driven.
    """

    learning_rate: object
    momentum: object = None


def recipe_defaults(name, learning_rate, epochs):
    """The options the recipes and the search use for schedule `name` in a fit
    of `epochs` epochs starting from (1cycle: peaking at) `learning_rate`.

    | name | schedule |
    |---|---|
    | `"none"` | constant |
    | `"power"` | `lr / (1 + t / (epochs / 4))`: a fifth of `lr` at the end |
    | `"exponential"` | `lr * 0.1 ** (t / epochs)`: `lr / 10` at the end |
    | `"piecewise"` | `lr`, `lr / 10` from half-way, `lr / 100` from 3/4 |
    | `"performance"` | halve when the monitor has not improved for 2 epochs |
    | `"one-cycle"` | 1cycle over the whole fit, peaking at `lr` |

    Returns:
        A dict of the matching callback's constructor arguments.
    """
    if name == "one-cycle":
        return {"max_learning_rate": learning_rate, "total_epochs": epochs}
    if name == "power":
        return {"initial_learning_rate": learning_rate, "decay_epochs": epochs / 4}
    if name == "exponential":
        return {"initial_learning_rate": learning_rate, "decay_epochs": epochs}
    if name == "piecewise":
        return {
            "boundaries": [epochs / 2, 3 * epochs / 4],
            "values": [learning_rate, learning_rate / 10, learning_rate / 100],
        }
    if name == "performance":
        return {"factor": 0.5, "patience": 2}
    return {}


def build_schedule(name, learning_rate, *, fit_steps, steps_per_epoch, **options):
    """The schedule `name` for a fit of `fit_steps` steps.

    Args:
        name: One of `IN_GRAPH_SCHEDULES`.
        learning_rate: The initial learning rate (1cycle: the peak; unused
            by "piecewise", whose `values` say it).
        fit_steps: The optimizer steps of the whole fit.
        steps_per_epoch: Optimizer steps per epoch (for lengths in epochs).
        **options: The options of the matching callback (`OneCycle`,
            `PowerScheduling`, `ExponentialScheduling`,
            `PiecewiseConstantScheduling`), e.g. `decay_epochs=5`.

    Returns:
        `ScheduleCurves`.

    Raises:
        ValueError: On an unknown name or a bad option (the same checks as
            the matching callback's).
        TypeError: On an option the schedule does not take.
    """
    if name not in IN_GRAPH_SCHEDULES:
        raise ValueError(
            f"`name` must be one of {', '.join(map(repr, IN_GRAPH_SCHEDULES))} "
            "(the schedules with a curve known before training). "
            f"Received: name={name!r}"
        )
    fit_steps = check_positive_int("fit_steps", fit_steps)
    steps_per_epoch = check_positive_int("steps_per_epoch", steps_per_epoch)
    return _BUILDERS[name](learning_rate, fit_steps, steps_per_epoch, **options)


_BUILDERS = {}


def _builds(name):
    """Registers the decorated function as the builder of schedule `name`."""

    def register(function):
        _BUILDERS[name] = function
        return function

    return register


@_builds("one-cycle")
def _one_cycle(
    learning_rate,
    fit_steps,
    steps_per_epoch,
    *,
    total_steps=None,
    total_epochs=None,
    cycle_momentum=True,
    max_momentum=MAX_MOMENTUM,
    min_momentum=MIN_MOMENTUM,
    **schedule_options,
):
    # OneCycleSchedule's own: shape, pct_start, div_factor, final_div_factor.
    total_steps, total_epochs = check_one_cycle_length(total_steps, total_epochs)
    max_momentum, min_momentum = check_momenta(max_momentum, min_momentum)
    total = resolve_steps(total_steps, total_epochs, steps_per_epoch)
    schedule = OneCycleSchedule(learning_rate, total or fit_steps, **schedule_options)
    momentum = (
        schedule.momentum_schedule(max_momentum, min_momentum)
        if cycle_momentum
        else None
    )
    return ScheduleCurves(schedule, momentum)


@_builds("power")
def _power(
    learning_rate,
    fit_steps,
    steps_per_epoch,
    *,
    decay_steps=None,
    decay_epochs=None,
    power=1.0,
):
    decay = _decay_steps(decay_steps, decay_epochs, steps_per_epoch)
    power = check_number("power", power, low=0)
    return ScheduleCurves(PowerDecay(learning_rate, decay_steps=decay, power=power))


@_builds("exponential")
def _exponential(
    learning_rate,
    fit_steps,
    steps_per_epoch,
    *,
    decay_steps=None,
    decay_epochs=None,
    decay_rate=EXPONENTIAL_DECAY_RATE,
    staircase=False,
):
    decay = _decay_steps(decay_steps, decay_epochs, steps_per_epoch)
    decay_rate = check_number("decay_rate", decay_rate, low=0, high=1, low_open=True)
    schedule = keras.optimizers.schedules.ExponentialDecay(
        learning_rate, decay_steps=decay, decay_rate=decay_rate, staircase=staircase
    )
    return ScheduleCurves(schedule)


@_builds("piecewise")
def _piecewise(
    learning_rate, fit_steps, steps_per_epoch, *, boundaries, values, unit="epoch"
):
    check_choice("unit", unit, ("epoch", "step"))
    boundaries, values = check_piecewise(boundaries, values)
    if unit == "epoch":
        schedule = piecewise_constant_by_epoch(boundaries, values, steps_per_epoch)
    else:
        schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
            [int(b) for b in boundaries], list(values)
        )
    return ScheduleCurves(schedule)


def _decay_steps(decay_steps, decay_epochs, steps_per_epoch):
    decay_steps, decay_epochs = check_steps_or_epochs(
        "decay_steps", decay_steps, "decay_epochs", decay_epochs, required=True
    )
    return resolve_steps(decay_steps, decay_epochs, steps_per_epoch)


def resolve_steps(steps, epochs, steps_per_epoch):
    """Turns a length given in steps or in epochs into steps (or `None`)."""
    if steps is not None:
        return steps
    if epochs is not None:
        return max(1, int(round(epochs * steps_per_epoch)))
    return None


def check_momenta(max_momentum, min_momentum):
    """Validates 1cycle's momenta: each in [0, 1], `min_momentum` (at the
    learning rate's peak) <= `max_momentum` (at the cycle's ends)."""
    max_momentum = check_number("max_momentum", max_momentum, low=0, high=1)
    min_momentum = check_number("min_momentum", min_momentum, low=0, high=1)
    if min_momentum > max_momentum:
        raise ValueError(
            "`min_momentum` (the momentum at the peak of the learning rate) "
            "must be <= `max_momentum` (at the ends of the cycle). "
            f"Received: min_momentum={min_momentum}, max_momentum={max_momentum}"
        )
    return max_momentum, min_momentum


def check_one_cycle_length(total_steps, total_epochs):
    """1cycle's optional length: `total_steps` or whole `total_epochs`."""
    return check_steps_or_epochs(
        "total_steps",
        total_steps,
        "total_epochs",
        total_epochs,
        required=False,
        whole_epochs=True,
    )


def check_steps_or_epochs(
    name_steps, steps, name_epochs, epochs, *, required, whole_epochs=False
):
    """Validates a pair of "in steps" / "in epochs" arguments (at most one).

    Steps are integers; epochs are positive numbers, or integers with
    `whole_epochs` (1cycle's length: a fraction would be cut off).
    """
    if steps is not None:
        steps = check_positive_int(name_steps, steps)
    if epochs is not None:
        epochs = (
            check_positive_int(name_epochs, epochs)
            if whole_epochs
            else check_number(name_epochs, epochs, low=0, low_open=True)
        )
    if steps is not None and epochs is not None:
        raise ValueError(
            f"Pass `{name_steps}` or `{name_epochs}`, not both. Received: "
            f"{name_steps}={steps}, {name_epochs}={epochs}"
        )
    if required and steps is None and epochs is None:
        raise ValueError(
            f"Pass `{name_steps}` or `{name_epochs}`. Received: "
            f"{name_steps}=None, {name_epochs}=None"
        )
    return steps, epochs
