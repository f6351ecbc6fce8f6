"""`PowerScheduling`: power decay of the learning rate as a callback."""

from keras_recipes._internal.validation import check_number
from keras_recipes.callbacks._scheduling import DecayScheduling


class PowerScheduling(DecayScheduling):
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
        log_dir=None,
        optimizers=None,
    ):
        super().__init__(
            initial_learning_rate,
            decay_steps,
            decay_epochs,
            steps_per_epoch,
            log_dir,
            optimizers,
        )
        self.power = check_number("power", power, low=0)

    def decay_options(self):
        return {"power": self.power}
