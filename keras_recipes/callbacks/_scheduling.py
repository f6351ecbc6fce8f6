"""Shared base of the callbacks that drive an in-graph learning-rate schedule."""

import functools

import keras
import numpy as np

from keras_recipes._internal.driven import (
    applied_updates,
    check_optimizers,
    driven_optimizers,
    refuse_idle_optimizer,
)
from keras_recipes._internal.driver import (
    ScheduleDriver,
    accumulation_steps,
    compiled_learning_rate,
    require_float_learning_rate,
    updates_per_epoch,
)
from keras_recipes._internal.summaries import ScalarWriter
from keras_recipes._internal.validation import (
    check_number,
    check_path,
    check_positive_int,
)
from keras_recipes._internal.workers import is_chief
from keras_recipes.schedules.evaluate import evaluate
from keras_recipes.schedules.factory import build_schedule, check_steps_or_epochs


class SchedulingCallback(keras.callbacks.Callback):
    """Base class: makes the optimizer follow a schedule of the fit's steps.

    A subclass names its schedule (`schedule_name`, one of
    `keras_recipes.schedules.SCHEDULE_NAMES`) and returns the schedule's
    options from `schedule_options()`; `keras_recipes.schedules.build_schedule`
    builds it. `schedule_for(epochs, steps_per_epoch)` says what a fit will
    follow before it begins (the recipes plot it, the preview prints it).

    The position of a step is `epoch * steps_per_epoch + batch`, counted
    in the updates the optimizer applies (under `gradient_accumulation_steps=k`
    one per k batches, so a 1cycle ends at the fit's last update; an epoch
    must then hold a whole number of updates), and from the `fit`'s epochs as
    Keras numbers them: a `fit(initial_epoch=k)`
    (KerasTuner's Hyperband, a resumed run) starts at `k * steps_per_epoch`,
    and a second `fit` without `initial_epoch` starts the schedule again,
    like `keras.callbacks.LearningRateScheduler`.

    The schedule runs inside the compiled train step (no Python work per
    batch; exact with `steps_per_execution > 1`). With `log_dir`, each
    epoch's end writes the learning rate (and momentum) of every update of
    the epoch to TensorBoard, as `schedule/learning_rate` and
    `schedule/momentum` against the update's position in the fit (0-based),
    so the curve the optimizer followed shows step by step; the values come
    from the schedule, in one batch, with no per-step work. Pass the
    `train` folder of `keras.callbacks.TensorBoard(log_dir)` to see them
    beside its epoch curves. Only the chief of a multi-worker run writes.

    Under mixed precision it drives the `LossScaleOptimizer`'s inner
    optimizer, the one that applies the update. A model whose own
    `train_step` applies its updates with optimizers of its own (a GAN's
    `d_optimizer` and `g_optimizer`) names them in `optimizers`: one, or a
    list, each an optimizer or the name of the model's attribute that holds
    it (default: `model.optimizer`). Each follows the schedule from its own
    compiled rate. A driven optimizer that applies no update in an epoch
    stops the fit at that epoch's end with a `ValueError` naming it. After
    the fit the optimizer is given back its compiled learning rate and
    momentum. The epoch `logs`
    get `learning_rate` (and `momentum` where it is driven): the values for
    the optimizer's next step.
    """

    schedule_name = None

    def __init__(self, steps_per_epoch=None, log_dir=None, optimizers=None):
        super().__init__()
        self.steps_per_epoch = check_positive_int(
            "steps_per_epoch", steps_per_epoch, allow_none=True
        )
        self.log_dir = check_path("log_dir", log_dir, allow_none=True)
        self.optimizers = check_optimizers(optimizers)
        self._driver = None
        self._drivers = []
        self._curves = None
        self._writer = None

    def schedule_options(self):
        """The options of `build_schedule` this callback was given."""
        raise NotImplementedError

    def initial_learning_rate_for(self, compiled_learning_rate):
        """The learning rate the schedule starts from (1cycle: its peak)."""
        raise NotImplementedError

    def schedule_for(self, epochs, steps_per_epoch, compiled_learning_rate=None):
        """What the optimizer follows in a fit of `epochs` x `steps_per_epoch`.

        Args:
            epochs: The fit's `epochs`.
            steps_per_epoch: Optimizer steps per epoch.
            compiled_learning_rate: The optimizer's compiled learning rate;
                needed only where the callback starts from it (no
                `initial_learning_rate` given).

        Returns:
            A `keras_recipes.schedules.ScheduleCurves`: the learning-rate
            schedule and the momentum schedule (or `None`), as functions of
            the step of the fit.

        Raises:
            ValueError: If the schedule needs `compiled_learning_rate` and
                none is given.
        """
        learning_rate = self.initial_learning_rate_for(compiled_learning_rate)
        if learning_rate is None:
            raise ValueError(
                f"{type(self).__name__} starts from the optimizer's compiled "
                "learning rate: pass `compiled_learning_rate` (or give the "
                "callback `initial_learning_rate`)."
            )
        return build_schedule(
            self.schedule_name,
            learning_rate,
            fit_steps=epochs * steps_per_epoch,
            steps_per_epoch=steps_per_epoch,
            **self.schedule_options(),
        )

    @property
    def driver(self):
        """The `ScheduleDriver` of the running fit, or `None` outside a fit."""
        return self._driver

    def on_train_begin(self, logs=None):
        self._driver = None
        self._drivers = []
        steps_per_epoch = self.steps_per_epoch or self.params.get("steps")
        if not steps_per_epoch:
            raise ValueError(
                f"{type(self).__name__} cannot tell the number of steps per "
                "epoch of this fit (the data has no length). Pass "
                "`steps_per_epoch` to the callback or to `fit`."
            )
        self._optimizers = driven_optimizers(self.model, self.optimizers)
        for optimizer in self._optimizers:
            require_float_learning_rate(optimizer)
        optimizer = self._optimizers[0]
        # Positions count applied updates (k batches each under gradient
        # accumulation), as the optimizer's `iterations` do.
        updates = updates_per_epoch(optimizer, steps_per_epoch, type(self).__name__)
        steps = accumulation_steps(optimizer)
        # The positions the fit can reach: Keras's own count of its batches
        # may exceed `steps_per_epoch` given to the callback.
        epochs = self.params["epochs"]
        positions = epochs * max(updates, (self.params.get("steps") or 0) // steps)
        self._drivers = []
        for each in self._optimizers:  # Each from its own compiled rate.
            curves = self.schedule_for(epochs, updates, compiled_learning_rate(each))
            driver = ScheduleDriver(
                each, curves.learning_rate, curves.momentum, positions=positions
            )
            self._drivers.append(driver)
            if self._driver is None:
                self._driver, self._curves = driver, curves
        self._updates_per_epoch = updates
        self._epoch_start = None

    def on_epoch_begin(self, epoch, logs=None):
        # The first epoch of the fit tells where in the schedule it starts.
        if not self._driver.installed:
            # A fit that raises calls no `on_train_end`: the next fit of the
            # model runs it instead (see `_internal/train_step.py`).
            undo = functools.partial(self._end, self.model)
            for driver in self._drivers:
                driver.install(
                    self.model,
                    start_position=epoch * self._updates_per_epoch,
                    undo=undo,
                )
        self._updates_at_start = [applied_updates(o) for o in self._optimizers]
        if self.log_dir is not None:
            self._epoch_start = self._driver.next_position(self.model)

    def on_epoch_end(self, epoch, logs=None):
        # Through `self.model` (syncs the JAX state): the counts read next.
        model = self.model
        for optimizer, before in zip(
            self._optimizers, self._updates_at_start, strict=True
        ):
            if applied_updates(optimizer) == before:
                refuse_idle_optimizer(type(self).__name__, optimizer, epoch)
        if logs is None:
            return
        # Once per epoch, in NumPy where the schedule allows it (a chain of
        # eager backend ops costs ~1 ms on TensorFlow, docs/benchmarks.md).
        position = self._driver.next_position(model)
        # Scaled by any assignment during the fit (ReduceLROnPlateau's cuts).
        scale = float(self._driver.scales_at(position))
        learning_rate = float(evaluate(self._curves.learning_rate, position))
        logs["learning_rate"] = learning_rate * scale
        if self._curves.momentum is not None:
            logs["momentum"] = float(evaluate(self._curves.momentum, position))
        if self.log_dir is not None and is_chief():
            self._write_steps(self._epoch_start, position)

    def _write_steps(self, start, stop):
        # The updates the epoch applied: positions start .. stop - 1.
        steps = np.arange(start, stop)
        curves = {"schedule/learning_rate": self._curves.learning_rate}
        if self._curves.momentum is not None:
            curves["schedule/momentum"] = self._curves.momentum
        if self._writer is None:
            self._writer = ScalarWriter(self.log_dir)
        for tag, schedule in curves.items():
            values = evaluate(schedule, steps)
            if tag == "schedule/learning_rate":
                values = values * self._driver.scales_at(steps)
            self._writer.write(tag, steps, values)
        self._writer.flush()

    def on_train_end(self, logs=None):
        self._end(self.model)

    def _end(self, model):
        for driver in reversed(self._drivers):
            driver.restore(model)
        self._driver = None
        self._drivers = []
        # Closed, not kept: the callback stays deep-copyable (KerasTuner
        # copies callbacks for every trial).
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class DecayScheduling(SchedulingCallback):
    """Base of the decays from an initial learning rate over a length given
    in steps or epochs (`PowerScheduling`, `ExponentialScheduling`).

    Subclasses add their own options to `decay_options()`.
    """

    def __init__(
        self,
        initial_learning_rate=None,
        decay_steps=None,
        decay_epochs=None,
        steps_per_epoch=None,
        log_dir=None,
        optimizers=None,
    ):
        super().__init__(
            steps_per_epoch=steps_per_epoch, log_dir=log_dir, optimizers=optimizers
        )
        if initial_learning_rate is not None:
            initial_learning_rate = check_number(
                "initial_learning_rate", initial_learning_rate, low=0, low_open=True
            )
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps, self.decay_epochs = check_steps_or_epochs(
            "decay_steps", decay_steps, "decay_epochs", decay_epochs, required=True
        )

    def decay_options(self):
        """The subclass's own options of `build_schedule`."""
        return {}

    def initial_learning_rate_for(self, compiled_learning_rate):
        return self.initial_learning_rate or compiled_learning_rate

    def schedule_options(self):
        lengths = {"decay_steps": self.decay_steps, "decay_epochs": self.decay_epochs}
        return {**lengths, **self.decay_options()}
