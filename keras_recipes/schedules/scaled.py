"""A learning-rate schedule multiplied by a constant factor."""

import keras
from keras import ops

from keras_recipes._internal.validation import check_number

_Schedule = keras.optimizers.schedules.LearningRateSchedule


@keras.saving.register_keras_serializable(package="keras_recipes")
class ScaledSchedule(_Schedule):
    """lr(t) = factor * schedule(t).

    `PerformanceScheduling` installs one when it reduces the learning rate of
    an optimizer that was compiled with a schedule: the schedule keeps its
    shape and a model saved afterwards keeps the reduction.

    Args:
        schedule: The `LearningRateSchedule` to scale.
        factor: The multiplier. Must be > 0.
        name: Optional name of the schedule.

    Raises:
        TypeError: If `schedule` is not a `LearningRateSchedule`.
        ValueError: If `factor` is not > 0.

    Example:

    >>> base = keras.optimizers.schedules.ExponentialDecay(0.1, 100, 0.5)
    >>> halved = ScaledSchedule(base, factor=0.5)
    """

    def __init__(self, schedule, factor, name=None):
        super().__init__()
        if isinstance(schedule, dict):
            schedule = keras.optimizers.schedules.deserialize(schedule)
        if not isinstance(schedule, _Schedule):
            raise TypeError(
                "`schedule` must be a keras.optimizers.schedules."
                f"LearningRateSchedule. Received: schedule={schedule!r}"
            )
        self.schedule = schedule
        self.factor = check_number("factor", factor, low=0, low_open=True)
        self.name = name

    def __call__(self, step):
        return self.factor * ops.cast(self.schedule(step), "float32")

    def get_config(self):
        return {
            "schedule": keras.optimizers.schedules.serialize(self.schedule),
            "factor": self.factor,
            "name": self.name,
        }
