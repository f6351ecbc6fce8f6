"""Keras schedules with their step arguments given in epochs."""

import keras

from keras_recipes._internal.validation import check_number, check_positive_int


def piecewise_constant_by_epoch(boundaries, values, steps_per_epoch):
    """Keras's `PiecewiseConstantDecay` with the boundaries given in epochs.

    Args:
        boundaries: Increasing epoch numbers (may be fractional) at which the
            learning rate changes.
        values: One learning rate more than `boundaries`: `values[i]` holds
            from `boundaries[i - 1]` to `boundaries[i]`.
        steps_per_epoch: Optimizer steps in one epoch. Must be >= 1.

    Returns:
        A `keras.optimizers.schedules.PiecewiseConstantDecay` whose boundaries
        are `round(boundary * steps_per_epoch) - 1` steps: Keras switches
        after a boundary (`step > boundary`), so a boundary at epoch k takes
        effect exactly at the first step of epoch k.

    Raises:
        ValueError: If the lengths do not match, the boundaries are not
            increasing, or a value is not > 0.

    Example:

    >>> schedule = piecewise_constant_by_epoch([5, 15], [1e-2, 5e-3, 1e-3], 100)
    >>> schedule.boundaries  # steps 500 and 1500 are the first of the new rates
    [499, 1499]
    """
    steps_per_epoch = check_positive_int("steps_per_epoch", steps_per_epoch)
    boundaries, values = check_piecewise(boundaries, values)
    step_boundaries = [int(round(b * steps_per_epoch)) - 1 for b in boundaries]
    if len(set(step_boundaries)) != len(step_boundaries):
        raise ValueError(
            "`boundaries` fall on the same step once converted with "
            f"steps_per_epoch={steps_per_epoch}. Received: boundaries={boundaries}"
        )
    return keras.optimizers.schedules.PiecewiseConstantDecay(step_boundaries, values)


def check_piecewise(boundaries, values):
    """Validates piecewise-constant boundaries and values; returns them as lists."""
    for name, value in (("boundaries", boundaries), ("values", values)):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise TypeError(
                f"`{name}` must be a list or tuple of numbers. Received: "
                f"{name}={value!r} of type {type(value).__name__}"
            )
    boundaries = [
        check_number(f"boundaries[{i}]", b, low=0) for i, b in enumerate(boundaries)
    ]
    values = [
        check_number(f"values[{i}]", v, low=0, low_open=True)
        for i, v in enumerate(values)
    ]
    if len(values) != len(boundaries) + 1:
        raise ValueError(
            "`values` must have one more element than `boundaries`. Received: "
            f"len(boundaries)={len(boundaries)}, len(values)={len(values)}"
        )
    if any(b1 >= b2 for b1, b2 in zip(boundaries[:-1], boundaries[1:], strict=True)):
        raise ValueError(
            "`boundaries` must be strictly increasing. "
            f"Received: boundaries={boundaries}"
        )
    return boundaries, values
