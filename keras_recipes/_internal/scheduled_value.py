"""`ScheduledValue`: a float hyperparameter whose tensor value follows a schedule.

What `driver.ScheduleDriver` puts into an optimizer's learning-rate slot and
momentum attribute for the length of a fit (the driver's docstring says why).
"""

from keras import ops


class ScheduledValue(float):
    """A float hyperparameter whose tensor value follows a schedule.

    As a Python float it equals `value`. Called, converted to a tensor or used
    in arithmetic, it returns `function()` as a tensor, evaluated where it is
    used (inside the compiled train step).
    """

    # Keras infers the dtype of a binary op from `x.dtype`, else `type(x)`:
    # `float` keeps the value's weak Python-float typing (Nadam multiplies a
    # variable by its `beta_1`: `variable * beta_1`).
    dtype = float

    def __new__(cls, value, function, compiled=None, assign=None):
        self = super().__new__(cls, value)
        self._function = function
        # What the optimizer held before (its learning-rate variable), so that
        # a fit interrupted by an exception can still be undone.
        self.compiled = compiled
        self._assign = assign
        return self

    def __call__(self):
        return self._function()

    def assign(self, value):
        """What Keras's optimizer setter calls (`optimizer.learning_rate =
        value`: `ReduceLROnPlateau`, `LearningRateScheduler`, user code):
        the driver's `assign`, which scales the schedule from here on."""
        if self._assign is None:
            raise ValueError(
                "This value follows a schedule of keras_recipes for the "
                "length of a fit and cannot be set. Received: "
                f"value={value!r}"
            )
        self._assign(value)

    def __jax_array__(self):
        return self._function()

    def __tf_tensor__(self, dtype=None, name=None):
        value = self._function()
        return value if dtype is None else ops.cast(value, dtype)

    def __add__(self, other):
        return ops.add(self._function(), other)

    def __radd__(self, other):
        return ops.add(other, self._function())

    def __sub__(self, other):
        return ops.subtract(self._function(), other)

    def __rsub__(self, other):
        return ops.subtract(other, self._function())

    def __mul__(self, other):
        return ops.multiply(self._function(), other)

    def __rmul__(self, other):
        return ops.multiply(other, self._function())

    def __truediv__(self, other):
        return ops.divide(self._function(), other)

    def __rtruediv__(self, other):
        return ops.divide(other, self._function())

    def __pow__(self, other):
        return ops.power(self._function(), other)

    def __rpow__(self, other):
        return ops.power(other, self._function())

    def __neg__(self):
        return ops.negative(self._function())

    def __reduce__(self):
        # Copies and pickles of an optimizer taken mid-fit hold the plain value.
        return (float, (float(self),))
