"""Schedules as tables of their values, for a train step traced once.

The scheduling callbacks and the LR finder put a schedule into the compiled
train step (`driver.py`). Computed in the step from the schedule's numbers,
the step holds those numbers as constants, so every scheduled fit traced a
step of its own: ~0.8 s on TensorFlow for the recipe's CNN, seconds for a
model of a hundred variables (docs/benchmarks.md), paid again by the fit
right after an LR range test.

TensorFlow's `tf.function` reads a variable when it runs, not when it is
traced. There the step reads each update's learning rate and momentum from
two tables held in variables, `table[clip(iterations - offset)]`, filled
from the schedule in NumPy before the fit. A later scheduled fit with the
same optimizer fills the same tables and runs the step already traced
(`train_step.py` keeps it on the model): the finder's sweep and the 1cycle
after it, or a second 1cycle, share one trace. The momentum table is there
whenever the optimizer has a momentum that can be driven (constant when the
schedule leaves it alone), so that a step with a cycled momentum and one
without are the same step.

JAX's `jit` takes every array that is not an input of the step (the model's
and the optimizer's variables) as a constant, and PyTorch runs eagerly: on
those backends the schedule is computed in the step, as before, and each
scheduled fit traces its step (JAX) or traces nothing (PyTorch).
"""

import weakref

import keras
import numpy as np
from keras import ops

# Positions a table holds at least: one table serves any fit of up to 4096
# updates (16 KB); longer fits take the next power of two.
MIN_CAPACITY = 4096

# optimizer -> its shared tables
_SHARED = weakref.WeakKeyDictionary()


def tables_in_use():
    """Whether this backend's compiled step reads the tables at run time."""
    return keras.backend.backend() == "tensorflow"


class ScheduleTables:
    """The learning rate (and momentum) of each position, and the offset.

    `lookup(iterations)` gives, inside the step, the values at position
    `iterations - offset`, clipped to the table (a position past the end
    reads the last value).
    """

    def __init__(self, capacity, with_momentum, iterations_dtype):
        self.capacity = capacity
        self.with_momentum = with_momentum

        def table(name):
            return keras.Variable(
                np.zeros(capacity, "float32"),
                trainable=False,
                autocast=False,
                name=name,
            )

        self.learning_rate = table("scheduled_learning_rate")
        self.momentum = table("scheduled_momentum") if with_momentum else None
        self.offset = keras.Variable(
            0, dtype=iterations_dtype, trainable=False, name="schedule_offset"
        )
        self.owner = None  # The driver installed on the tables.

    def fill(self, learning_rate_fn, momentum, offset):
        """Writes the schedules' values and the offset.

        Args:
            learning_rate_fn: Function of the (float32) position.
            momentum: Function of the position, a constant, or `None`.
            offset: `iterations` at position 0.
        """
        self.learning_rate.assign(_values(learning_rate_fn, self.capacity))
        if self.with_momentum:
            if callable(momentum):
                values = _values(momentum, self.capacity)
            else:
                values = np.full(self.capacity, momentum, "float32")
            self.momentum.assign(values)
        self.offset.assign(offset)

    def lookup(self, iterations):
        """`(learning rate, momentum or None)` at the step after `iterations`."""
        index = ops.clip(
            ops.subtract(iterations, ops.cast(self.offset, iterations.dtype)),
            0,
            self.capacity - 1,
        )
        learning_rate = ops.take(self.learning_rate, index)
        if not self.with_momentum:
            return learning_rate, None
        return learning_rate, ops.take(self.momentum, index)


def tables_for(optimizer, positions, with_momentum):
    """Tables of at least `positions` positions for `optimizer`.

    Returns `(tables, shared)`: the optimizer's shared tables (made or
    enlarged here), or, while another driver is installed on those, tables
    of its own (`shared` False: no step is kept for them).
    """
    capacity = max(MIN_CAPACITY, 1 << max(int(positions) - 1, 0).bit_length())
    dtype = optimizer.iterations.dtype
    tables = _SHARED.get(optimizer)
    if tables is not None and tables.owner is not None:
        return ScheduleTables(capacity, with_momentum, dtype), False
    if (
        tables is None
        or tables.capacity < capacity
        or tables.with_momentum != with_momentum
    ):
        tables = ScheduleTables(capacity, with_momentum, dtype)
        _SHARED[optimizer] = tables
    return tables, True


def _values(function, capacity):
    # As `keras_recipes.schedules.evaluate` (TensorFlow only here): NumPy
    # where the function supports it, else one call on all the positions.
    steps = np.arange(capacity, dtype="float32")
    if getattr(function, "supports_numpy", False):
        values = function(steps, xp=np)
    else:
        values = ops.convert_to_numpy(function(ops.convert_to_tensor(steps)))
    return np.broadcast_to(np.asarray(values, "float32"), steps.shape).copy()
