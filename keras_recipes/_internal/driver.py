"""Drives an optimizer's learning rate (and momentum) by schedules of its step.

This is the mechanism behind the scheduling callbacks. Keras evaluates an
optimizer's learning rate inside the compiled train step when it is a
`LearningRateSchedule` or a callable, but an optimizer compiled on a float
holds a `keras.Variable`, and its momentum (`SGD.momentum`, `Adam.beta_1`) is a
Python float that the compiled step captures once: changing it from a
callback has no effect on JAX. Assigning new values from Python every batch
also costs ~2x the step time of a small model.

For the length of one `fit`, `ScheduleDriver` replaces both by a
`ScheduledValue`: a Python float (the compiled value, so `get_config`, JSON and
`momentum != 0` see the optimizer as compiled and a model saved mid-fit loads
as a plain one) which, when the optimizer calls it or converts it to a tensor
inside the train step, yields `schedule(position)` computed from the
optimizer's `iterations` with `keras.ops`. The optimizer's variables are left
as they are (same count and order, so weights files and JAX state keep their
structure). `restore()` puts the compiled values back. On TensorFlow and JAX
the values are read from tables of the schedule (`schedule_tables.py`), so
that later schedules of the same optimizer run the step already traced.

Backend notes:
    * TensorFlow and JAX convert the momentum through `__tf_tensor__` and
      `__jax_array__` when the optimizer calls `ops.cast(self.momentum, ...)`;
      the arithmetic operators cover `1 - self.beta_1` and friends.
    * PyTorch's Keras optimizers pass the momentum to `torch._foreach_*` as a
      Python number, and PyTorch runs the step eagerly, so there the learning
      rate's evaluation (once per step, before the update) also stores the
      momentum of that step as a plain float.
"""

import functools
import math

import keras
import numpy as np
from keras import ops

from keras_recipes._internal.driven import (  # noqa: F401 (re-exported)
    accumulation_steps,
    applying_optimizer,
    updates_per_epoch,
)
from keras_recipes._internal.keras_internals import (
    learning_rate_slot,
    set_learning_rate_slot,
)
from keras_recipes._internal.schedule_tables import tables_for, tables_in_use
from keras_recipes._internal.scheduled_value import ScheduledValue
from keras_recipes._internal.train_step import hold_train_step, release_train_step

# The optimizer attribute that holds the momentum, by optimizer family.
_MOMENTUM_ATTRIBUTES = (
    (keras.optimizers.SGD, "momentum"),
    (keras.optimizers.Adam, "beta_1"),  # also AdamW, a subclass
    (keras.optimizers.Adamax, "beta_1"),
    (keras.optimizers.Nadam, "beta_1"),
)


def momentum_attribute(optimizer):
    """The name of `optimizer`'s momentum attribute, or `None` if it has none."""
    optimizer = applying_optimizer(optimizer)
    for cls, attribute in _MOMENTUM_ATTRIBUTES:
        if isinstance(optimizer, cls):
            return attribute
    return None


def cycle_momentum_error(optimizer):
    """Why `optimizer`'s momentum cannot follow a schedule, or `None` if it can."""
    optimizer = applying_optimizer(optimizer)
    name = type(optimizer).__name__
    attribute = momentum_attribute(optimizer)
    if attribute is None:
        return (
            f"Cannot cycle the momentum of {name}: supported are SGD "
            "(`momentum`) and Adam, AdamW, Adamax, Nadam (`beta_1`). Pass "
            "`cycle_momentum=False`."
        )
    if attribute == "momentum" and optimizer.momentum == 0:
        return (
            "Cannot cycle the momentum of SGD compiled with momentum=0 (it "
            "keeps no velocity). Compile with e.g. `SGD(momentum=0.9)` or pass "
            "`cycle_momentum=False`."
        )
    if isinstance(optimizer, keras.optimizers.Nadam) and (
        keras.backend.backend() == "jax"
    ):
        # Nadam computes `u_product * beta_1` (a variable times the float);
        # JAX converts a float subclass to the constant it holds there, so
        # that part of the update would ignore the cycle.
        return (
            "Cannot cycle the momentum of Nadam on the JAX backend (part of "
            "its update reads `beta_1` as the compiled constant). Pass "
            "`cycle_momentum=False`, or use Adam."
        )
    return None


def has_float_learning_rate(optimizer):
    """Whether `optimizer` was compiled with a float (variable) learning rate."""
    optimizer = applying_optimizer(optimizer)
    return isinstance(_compiled_learning_rate(optimizer), keras.Variable)


def require_float_learning_rate(optimizer):
    """Raises `ValueError` unless `optimizer` has a float learning rate."""
    optimizer = applying_optimizer(optimizer)
    if not has_float_learning_rate(optimizer):
        raise ValueError(
            "The optimizer must be compiled with a float learning rate to be "
            "scheduled by this callback; it has a "
            f"{type(learning_rate_slot(optimizer)).__name__}. Compile with a float "
            "(e.g. `learning_rate=1e-3`), or pass the schedule to the "
            "optimizer directly."
        )


def compiled_learning_rate(optimizer):
    """The float learning rate `optimizer` was compiled with (outside a fit)."""
    optimizer = applying_optimizer(optimizer)
    return float(ops.convert_to_numpy(_compiled_learning_rate(optimizer)))


def _compiled_learning_rate(optimizer):
    # A ScheduledValue left behind by a fit that ended in an exception holds
    # the variable it replaced.
    current = learning_rate_slot(optimizer)
    return current.compiled if isinstance(current, ScheduledValue) else current


class ScheduleDriver:
    """Makes `optimizer` follow `learning_rate_fn` (and `momentum_fn`) per step.

    The methods that read or change the optimizer take the model: pass
    `self.model` from a callback, whose access syncs the JAX state into the
    variables (on JAX a cached optimizer reference reads stale values, and
    what is assigned through it can be overwritten at epoch end).

    Args:
        optimizer: The model's optimizer (a `LossScaleOptimizer`'s inner
            optimizer is driven, see `applying_optimizer`).
        learning_rate_fn: Function of the float32 position tensor returning
            the learning rate.
        momentum_fn: Optional function of the position returning the momentum.
        positions: The positions the fit can reach (its updates). Given, on
            TensorFlow and JAX the step reads the schedules from tables of
            their values, and a later driver of the same optimizer runs the
            step already traced
            (`keras_recipes._internal.schedule_tables`); the momentum is
            then driven whenever it can be, at its own value when
            `momentum_fn` is `None`.

    A function whose `supports_numpy` attribute is true also accepts
    `xp=numpy` and then computes in NumPy (`OneCycleSchedule`, its momentum,
    the LR finder's sweep). PyTorch runs the step eagerly, and a chain of tiny
    torch ops per step is measurable on small models (docs/benchmarks.md), so
    there such functions are evaluated in NumPy.

    Raises:
        ValueError: If the optimizer has no float learning rate, or
            `momentum_fn` is given for an optimizer without momentum.
    """

    def __init__(self, optimizer, learning_rate_fn, momentum_fn=None, positions=None):
        optimizer = applying_optimizer(optimizer)
        require_float_learning_rate(optimizer)
        self._optimizer = optimizer
        functions = [f for f in (learning_rate_fn, momentum_fn) if f is not None]
        self._eager_numpy = keras.backend.backend() == "torch" and all(
            getattr(f, "supports_numpy", False) for f in functions
        )
        self._learning_rate_fn = learning_rate_fn
        self._momentum_fn = momentum_fn
        self._momentum_attribute = None
        if momentum_fn is not None:
            error = cycle_momentum_error(optimizer)
            if error:
                raise ValueError(error)
            self._momentum_attribute = momentum_attribute(optimizer)
        self._positions = positions
        self._use_tables = positions is not None and tables_in_use()
        self._tables = None
        if self._use_tables and momentum_fn is None:
            if cycle_momentum_error(optimizer) is None:
                # At its own value: the same step as a cycled momentum's.
                self._momentum_attribute = momentum_attribute(optimizer)
        self._variable = _compiled_learning_rate(optimizer)
        self._nominal_momentum = None
        self._offset = 0
        self._installed = False
        self._scale = 1.0
        self._scales = [(0, 1.0)]

    @property
    def installed(self):
        """Whether the schedules are in the optimizer now."""
        return self._installed

    def position(self, iterations):
        """The schedule position (float32) of the step after `iterations`."""
        return ops.cast(iterations - self._offset, "float32")

    def install(self, model, start_position, undo=None):
        """Puts the schedules into the optimizer from its next step on.

        Args:
            model: The model (its train function is rebuilt so that the
                compiled step picks the schedules up; `restore` puts the
                previous one back, see `keras_recipes._internal.train_step`).
            start_position: The schedule position of the optimizer's next step
                (`initial_epoch * steps_per_epoch` at the start of a fit).
            undo: What undoes the fit's changes if it ends in an exception,
                at the model's next fit (it must call `restore`); default
                `restore` alone.
        """
        optimizer = self._optimizer
        self._offset = int(ops.convert_to_numpy(optimizer.iterations)) - int(
            start_position
        )
        self._scale = 1.0
        self._scales = [(0, 1.0)]
        attribute = self._momentum_attribute
        if attribute is not None:
            self._nominal_momentum = float(getattr(optimizer, attribute))
        reuse = None
        if self._use_tables:
            self._tables, shared = tables_for(
                optimizer, self._positions, attribute is not None
            )
            momentum = self._momentum_fn or self._nominal_momentum
            self._tables.fill(self._learning_rate_fn, momentum, self._offset)
            self._tables.owner = self
            reuse = self._tables if shared else None
        # Not the public setter: it would untrack the variable and change the
        # optimizer's variable list (see the module docstring).
        set_learning_rate_slot(
            optimizer,
            ScheduledValue(
                float(ops.convert_to_numpy(self._variable)),
                self._scheduled_learning_rate,
                compiled=self._variable,
                assign=self._assign_learning_rate,
            ),
        )
        if attribute is not None:
            setattr(
                optimizer,
                attribute,
                ScheduledValue(self._nominal_momentum, self._scheduled_momentum),
            )
        self._installed = True
        hold_train_step(
            model,
            undo or functools.partial(self.restore, model),
            reuse_key=reuse,
            step_inputs=self._tables,
        )

    def restore(self, model):
        """Gives the optimizer back its compiled learning rate and momentum."""
        if not self._installed:
            return
        set_learning_rate_slot(self._optimizer, self._variable)
        if self._momentum_attribute is not None:
            setattr(self._optimizer, self._momentum_attribute, self._nominal_momentum)
        if self._tables is not None:
            self._tables.owner = None
            self._tables = None
        self._installed = False
        release_train_step(model)

    def scales_at(self, positions):
        """The factor by which assignments during the fit (see
        `_assign_learning_rate`) scaled the schedule at each of `positions`."""
        positions = np.asarray(positions)
        factors = np.ones(positions.shape, "float64")
        for start, scale in self._scales:
            factors[positions >= start] = scale
        return factors

    def _assign_learning_rate(self, value):
        """`optimizer.learning_rate = value` during the fit (Keras's
        `ReduceLROnPlateau` and `LearningRateScheduler` do it): the rate of
        the next step becomes `value`, and the rest of the schedule is scaled
        by the same factor, for the rest of the fit."""
        value = float(ops.convert_to_numpy(value))
        current = float(ops.convert_to_numpy(self._scheduled_learning_rate()))
        if not math.isfinite(value) or value < 0:
            raise ValueError(
                "The learning rate assigned to an optimizer that follows a "
                "keras_recipes schedule must be a finite number >= 0. Received: "
                f"learning_rate={value!r}"
            )
        if current <= 0:
            raise ValueError(
                "Cannot set the learning rate while the keras_recipes schedule "
                f"is at {current:g}: the schedule is scaled to the rate "
                "assigned, and a rate of 0 has no scale. Received: "
                f"learning_rate={value!r}"
            )
        factor = value / current
        self._scale *= factor
        position = int(ops.convert_to_numpy(self._optimizer.iterations)) - self._offset
        self._scales.append((position, self._scale))
        if self._tables is not None:
            table = self._tables.learning_rate
            table.assign(ops.multiply(table, factor))

    def next_position(self, model):
        """The schedule position (an int) of the model's next step."""
        iterations = applying_optimizer(model.optimizer).iterations
        return int(ops.convert_to_numpy(iterations)) - self._offset

    # The functions below run inside the compiled train step.

    def _scheduled_learning_rate(self):
        if self._tables is not None:
            return self._tables.lookup(self._optimizer.iterations)[0]
        position = self.position(self._optimizer.iterations)
        if keras.backend.backend() != "torch":
            return self._learning_rate_fn(position)
        # PyTorch: eager, and its optimizers take the momentum as a Python
        # number (a float's value cannot follow a schedule), so the step's
        # momentum is stored as a plain float here: Keras's `apply` reads the
        # learning rate once, before any variable's update (checked by
        # tests/test_keras_internals.py).
        if self._eager_numpy:
            position = float(ops.convert_to_numpy(position))
        evaluate = self._evaluate_eagerly
        if self._momentum_fn is not None:
            momentum = float(
                ops.convert_to_numpy(evaluate(self._momentum_fn, position))
            )
            setattr(self._optimizer, self._momentum_attribute, momentum)
        learning_rate = evaluate(self._learning_rate_fn, position)
        if self._scale == 1.0:
            return learning_rate
        return ops.multiply(learning_rate, self._scale)

    def _evaluate_eagerly(self, function, position):
        if self._eager_numpy:
            return float(function(position, xp=np))
        return function(position)

    def _scheduled_momentum(self):
        # Each read computes the step's value from `iterations` (which Keras
        # advances after every variable's update), whatever the order of the
        # reads: a table lookup, or the schedule (a few scalar operations
        # per read, inside the compiled step).
        if self._tables is not None:
            return self._tables.lookup(self._optimizer.iterations)[1]
        return self._momentum_fn(self.position(self._optimizer.iterations))
