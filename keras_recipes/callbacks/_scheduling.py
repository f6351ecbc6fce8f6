"""Shared base of the callbacks that drive an in-graph learning-rate schedule."""

import keras

from keras_recipes._validation import check_number, check_positive_int
from keras_recipes.callbacks._driver import (
    ScheduleDriver,
    compiled_learning_rate,
    require_float_learning_rate,
)


class SchedulingCallback(keras.callbacks.Callback):
    """Base class: makes the optimizer follow a schedule of the fit's steps.

    Subclasses implement `schedule_functions(total_steps, steps_per_epoch,
    compiled_learning_rate)` and return `(learning_rate_fn, momentum_fn)`,
    functions of the float32 schedule position (`momentum_fn` may be `None`);
    a subclass whose functions also accept `xp=numpy` sets `numpy = True`.

    The position of a step is `epoch * steps_per_epoch + batch`, counted
    from the `fit`'s epochs as Keras numbers them: a `fit(initial_epoch=k)`
    (KerasTuner's Hyperband, a resumed run) starts at `k * steps_per_epoch`,
    and a second `fit` without `initial_epoch` starts the schedule again,
    like `keras.callbacks.LearningRateScheduler`.

    The schedule runs inside the compiled train step (no Python work per
    batch; exact with `steps_per_execution > 1`). After the fit the optimizer
    is given back its compiled learning rate and momentum. The epoch `logs`
    get `learning_rate` (and `momentum` where it is driven): the values for
    the optimizer's next step.
    """

    numpy = False

    def __init__(self, steps_per_epoch=None):
        super().__init__()
        self.steps_per_epoch = check_positive_int(
            "steps_per_epoch", steps_per_epoch, allow_none=True
        )
        self._driver = None

    def schedule_functions(self, total_steps, steps_per_epoch, compiled_learning_rate):
        raise NotImplementedError

    @property
    def driver(self):
        """The `ScheduleDriver` of the running fit, or `None` outside a fit."""
        return self._driver

    def on_train_begin(self, logs=None):
        self._driver = None
        steps_per_epoch = self.steps_per_epoch or self.params.get("steps")
        if not steps_per_epoch:
            raise ValueError(
                f"{type(self).__name__} cannot tell the number of steps per "
                "epoch of this fit (the data has no length). Pass "
                "`steps_per_epoch` to the callback or to `fit`."
            )
        model = self.model
        require_float_learning_rate(model.optimizer)
        learning_rate_fn, momentum_fn = self.schedule_functions(
            total_steps=self.params["epochs"] * steps_per_epoch,
            steps_per_epoch=steps_per_epoch,
            compiled_learning_rate=compiled_learning_rate(model.optimizer),
        )
        self._driver = ScheduleDriver(
            model.optimizer, learning_rate_fn, momentum_fn, numpy=self.numpy
        )
        self._resolved_steps_per_epoch = steps_per_epoch

    def on_epoch_begin(self, epoch, logs=None):
        # The first epoch of the fit tells where in the schedule it starts.
        if not self._driver.installed:
            self._driver.install(
                self.model, start_position=epoch * self._resolved_steps_per_epoch
            )

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        logs["learning_rate"] = self._driver.current_learning_rate(self.model)
        momentum = self._driver.current_momentum(self.model)
        if momentum is not None:
            logs["momentum"] = momentum

    def on_train_end(self, logs=None):
        if self._driver is not None:
            self._driver.restore(self.model)
        self._driver = None


def resolve_steps(steps, epochs, steps_per_epoch):
    """Turns a length given in steps or in epochs into steps (or `None`)."""
    if steps is not None:
        return steps
    if epochs is not None:
        return max(1, int(round(epochs * steps_per_epoch)))
    return None


def check_steps_or_epochs(name_steps, steps, name_epochs, epochs, *, required):
    """Validates a pair of "in steps" / "in epochs" arguments (at most one)."""
    if steps is not None and epochs is not None:
        raise ValueError(
            f"Pass `{name_steps}` or `{name_epochs}`, not both. Received: "
            f"{name_steps}={steps}, {name_epochs}={epochs}"
        )
    if required and steps is None and epochs is None:
        raise ValueError(
            f"Pass `{name_steps}` or `{name_epochs}`. Received: "
            f"{name_steps}=None, {name_epochs}=None"
        )
    if steps is not None:
        steps = check_positive_int(name_steps, steps)
    if epochs is not None:
        epochs = check_number(name_epochs, epochs, low=0, low_open=True)
    return steps, epochs
