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

JAX's `jit` takes every array that is not an input of the step as a
constant, and the step's inputs are the model's and optimizer's variables
and the batch: there the tables' values go into the step beside each batch
(`make_fresh_train_function(model, step_inputs=tables)`), and the kept
function is run again in the same way. Under a `keras.distribution` the
tables, made inside the fit, are laid out as the distribution lays out its
variables (replicated by `DataParallel`; tests/test_distribution.py runs a
kept step on two devices). PyTorch runs the step eagerly: there the schedule
is computed in the step and nothing is traced.
"""

import contextlib
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
    return keras.backend.backend() in ("tensorflow", "jax")


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
        self._received = None  # JAX: the step's own values, while it runs.

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

    def values(self):
        """The tables and the offset, as the step's inputs (JAX)."""
        momentum = self.momentum.value if self.with_momentum else None
        return self.learning_rate.value, momentum, self.offset.value

    @contextlib.contextmanager
    def receive(self, values):
        """Makes `lookup` read `values` (the step's inputs) while it runs."""
        self._received = values
        try:
            yield
        finally:
            self._received = None

    def lookup(self, iterations):
        """`(learning rate, momentum or None)` at the step after `iterations`."""
        if self._received is not None:
            learning_rate, momentum, offset = self._received
        else:
            learning_rate, momentum, offset = (
                self.learning_rate,
                self.momentum,
                self.offset,
            )
        index = ops.clip(
            ops.subtract(iterations, ops.cast(offset, iterations.dtype)),
            0,
            self.capacity - 1,
        )
        if not self.with_momentum:
            return ops.take(learning_rate, index), None
        return ops.take(learning_rate, index), ops.take(momentum, index)


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
    # As `keras_recipes.schedules.evaluate`: NumPy
    # where the function supports it, else one call on all the positions.
    steps = np.arange(capacity, dtype="float32")
    if getattr(function, "supports_numpy", False):
        values = function(steps, xp=np)
    else:
        values = ops.convert_to_numpy(function(ops.convert_to_tensor(steps)))
    return np.broadcast_to(np.asarray(values, "float32"), steps.shape).copy()
