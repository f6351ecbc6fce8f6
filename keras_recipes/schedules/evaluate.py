"""A schedule's values at given steps, in NumPy: for logs, tables and plots."""

import keras
import numpy as np
from keras import ops


def evaluate(schedule, steps):
    """The values of `schedule` at each of `steps`, as a float64 array.

    `schedule` is a `LearningRateSchedule`, any function of the step (a
    momentum schedule), or a number (a constant). A function whose
    `supports_numpy` attribute is true (`OneCycleSchedule`, its momentum) is
    evaluated with `xp=numpy`; the others are called on float32 steps, as
    the scheduling callbacks call them inside the train step, and converted:
    on one tensor of all the steps, except on PyTorch, where Keras's
    `PiecewiseConstantDecay` cannot take a vector (it adds into a 0-d tensor
    in place), so there each step is its own call (~0.1 ms a step).

    Args:
        schedule: What to evaluate.
        steps: Optimizer steps (a number or an array of them).

    Returns:
        A float64 NumPy array of the shape of `steps`.

    Example:

    >>> evaluate(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5), [0, 10])
    array([0.1 , 0.05])
    """
    steps = np.asarray(steps, dtype="float32")
    if not callable(schedule):
        values = float(schedule)
    elif getattr(schedule, "supports_numpy", False):
        values = schedule(steps, xp=np)
    elif keras.backend.backend() == "torch":
        values = [
            float(ops.convert_to_numpy(schedule(ops.convert_to_tensor(step))))
            for step in steps.ravel()
        ]
        values = np.reshape(values, steps.shape)
    else:
        values = ops.convert_to_numpy(schedule(ops.convert_to_tensor(steps)))
    return np.broadcast_to(np.asarray(values, dtype="float64"), steps.shape).copy()
