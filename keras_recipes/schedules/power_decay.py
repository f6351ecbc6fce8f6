"""Power scheduling: the learning rate falls as a power of the step."""

import keras
from keras import ops

from keras_recipes._internal.validation import check_number


@keras.saving.register_keras_serializable(package="keras_recipes")
class PowerDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Power decay of the learning rate.

    lr(t) = initial_learning_rate / (1 + t / decay_steps) ** power

    With `power=1` the rate halves after `decay_steps` steps, is a third after
    `2 * decay_steps`, and so on; this is Keras 2's `InverseTimeDecay` with
    `decay_rate=1` generalised to any power (Géron's "power scheduling").

    Args:
        initial_learning_rate: The learning rate at step 0. Must be > 0.
        decay_steps: The step scale `s` of the decay. Must be > 0.
        power: The exponent `c`. Must be >= 0 (0 keeps the rate constant).
        name: Optional name of the schedule.

    Raises:
        ValueError: If an argument is out of range.

    Example:

    >>> schedule = PowerDecay(0.01, decay_steps=100)
    >>> optimizer = keras.optimizers.SGD(learning_rate=schedule)
    >>> round(float(schedule(100)), 6)  # half of 0.01 after decay_steps
    0.005

    Reference:
        A. Géron, *Hands-On Machine Learning*, 3rd ed., chapter 11
        ("Learning Rate Scheduling").
    """

    def __init__(self, initial_learning_rate, decay_steps, power=1.0, name=None):
        super().__init__()
        self.initial_learning_rate = check_number(
            "initial_learning_rate", initial_learning_rate, low=0, low_open=True
        )
        self.decay_steps = check_number(
            "decay_steps", decay_steps, low=0, low_open=True
        )
        self.power = check_number("power", power, low=0)
        self.name = name

    def __call__(self, step):
        step = ops.cast(step, "float32")
        return self.initial_learning_rate / ops.power(
            1.0 + step / self.decay_steps, self.power
        )

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "power": self.power,
            "name": self.name,
        }
