"""`PowerScheduling`: power decay of the learning rate as a callback."""

from keras_recipes._internal.validation import check_number
from keras_recipes.callbacks._scheduling import SchedulingCallback
from keras_recipes.schedules.factory import check_steps_or_epochs


class PowerScheduling(SchedulingCallback):
    """lr(t) = initial_learning_rate / (1 + t / decay_steps) ** power, per step.

    `t` counts the fit's steps from `initial_epoch * steps_per_epoch` (see
    `SchedulingCallback`); the decay is `PowerDecay`, run in the train step.

    Args:
        initial_learning_rate: Learning rate at step 0. Defaults to the
            optimizer's compiled learning rate.
        decay_steps: The step scale `s` of the decay.
        decay_epochs: The same in epochs (give one of the two).
        power: The exponent `c` (Géron's power scheduling uses 1).
        steps_per_epoch: Optimizer steps per epoch, for data of unknown length.

    Raises:
        ValueError: On a bad argument; at `on_train_begin` if the optimizer
            has no float learning rate.

    Example:

    >>> model.fit(x, y, epochs=20, callbacks=[PowerScheduling(decay_epochs=5)])
    """

    schedule_name = "power"

    def __init__(
        self,
        initial_learning_rate=None,
        decay_steps=None,
        decay_epochs=None,
        power=1.0,
        steps_per_epoch=None,
    ):
        super().__init__(steps_per_epoch=steps_per_epoch)
        if initial_learning_rate is not None:
            initial_learning_rate = check_number(
                "initial_learning_rate", initial_learning_rate, low=0, low_open=True
            )
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps, self.decay_epochs = check_steps_or_epochs(
            "decay_steps", decay_steps, "decay_epochs", decay_epochs, required=True
        )
        self.power = check_number("power", power, low=0)

    def initial_learning_rate_for(self, compiled_learning_rate):
        return self.initial_learning_rate or compiled_learning_rate

    def schedule_options(self):
        return {
            "decay_steps": self.decay_steps,
            "decay_epochs": self.decay_epochs,
            "power": self.power,
        }
