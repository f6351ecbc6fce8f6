"""`ExponentialScheduling`: exponential decay of the learning rate as a callback."""

from keras_recipes._internal.validation import check_bool, check_number
from keras_recipes.callbacks._scheduling import DecayScheduling
from keras_recipes.schedules.factory import EXPONENTIAL_DECAY_RATE


class ExponentialScheduling(DecayScheduling):
    """lr(t) = initial_learning_rate * decay_rate ** (t / decay_steps), per step.

    Runs Keras's own `ExponentialDecay` inside the train step; `t` counts the
    fit's steps from `initial_epoch * steps_per_epoch`. With the default
    `decay_rate=0.1` the rate drops tenfold every `decay_steps` steps.

    Args:
        initial_learning_rate: Learning rate at step 0. Defaults to the
            optimizer's compiled learning rate.
        decay_steps: Steps over which the rate is multiplied by `decay_rate`.
        decay_epochs: The same in epochs (give one of the two).
        decay_rate: The factor per `decay_steps`. Must be in (0, 1].
        staircase: Whether to decay in whole steps of `decay_steps`.
        steps_per_epoch: Optimizer steps per epoch, for data of unknown length.

    Raises:
        ValueError: On a bad argument; at `on_train_begin` if the optimizer
            has no float learning rate.

    Example:

    >>> model.fit(x, y, epochs=30, callbacks=[ExponentialScheduling(decay_epochs=20)])
    """

    schedule_name = "exponential"

    def __init__(
        self,
        initial_learning_rate=None,
        decay_steps=None,
        decay_epochs=None,
        decay_rate=EXPONENTIAL_DECAY_RATE,
        staircase=False,
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
        self.decay_rate = check_number(
            "decay_rate", decay_rate, low=0, high=1, low_open=True
        )
        self.staircase = check_bool("staircase", staircase)

    def decay_options(self):
        return {"decay_rate": self.decay_rate, "staircase": self.staircase}
