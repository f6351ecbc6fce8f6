"""`PiecewiseConstantScheduling`: a constant learning rate per interval."""

from keras_recipes._internal.validation import check_choice
from keras_recipes.callbacks._scheduling import SchedulingCallback
from keras_recipes.schedules.by_epoch import check_piecewise


class PiecewiseConstantScheduling(SchedulingCallback):
    """A constant learning rate between boundaries given in epochs or steps.

    `values[0]` holds until `boundaries[0]`, `values[i]` from
    `boundaries[i - 1]` to `boundaries[i]`, and `values[-1]` after the last
    boundary. Runs Keras's `PiecewiseConstantDecay` in the train step, so a
    boundary takes effect at the exact step even inside an epoch.

    Args:
        boundaries: Strictly increasing epochs (or steps, see `unit`).
        values: Learning rates, one more than `boundaries`.
        unit: `"epoch"` (default; fractional epochs allowed) or `"step"`.
        steps_per_epoch: Optimizer steps per epoch, for data of unknown length.

    Raises:
        ValueError: On a bad argument; at `on_train_begin` if the optimizer
            has no float learning rate.

    Example:

    >>> callback = PiecewiseConstantScheduling([5, 15], [1e-2, 5e-3, 1e-3])
    >>> model.fit(x, y, epochs=20, callbacks=[callback])
    """

    schedule_name = "piecewise"

    def __init__(
        self,
        boundaries,
        values,
        unit="epoch",
        steps_per_epoch=None,
        log_dir=None,
        optimizers=None,
    ):
        super().__init__(
            steps_per_epoch=steps_per_epoch, log_dir=log_dir, optimizers=optimizers
        )
        self.boundaries, self.values = check_piecewise(boundaries, values)
        self.unit = check_choice("unit", unit, ("epoch", "step"))
        if unit == "step" and any(b != int(b) for b in self.boundaries):
            raise ValueError(
                "`boundaries` must be whole steps when unit='step'. "
                f"Received: boundaries={boundaries}"
            )

    def initial_learning_rate_for(self, compiled_learning_rate):
        return self.values[0]

    def schedule_options(self):
        return {"boundaries": self.boundaries, "values": self.values, "unit": self.unit}
