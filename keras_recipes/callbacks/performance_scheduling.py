"""`PerformanceScheduling`: cut the learning rate when a metric stops improving."""

import keras
from keras import ops

from keras_recipes._internal.driver import (
    ScheduledValue,
    applying_optimizer,
    has_float_learning_rate,
)
from keras_recipes._internal.keras_internals import learning_rate_slot
from keras_recipes._internal.train_step import rebuild_train_step
from keras_recipes._internal.validation import check_int, check_number
from keras_recipes.callbacks._monitor import Monitor
from keras_recipes.schedules.scaled import ScaledSchedule


class PerformanceScheduling(keras.callbacks.Callback):
    """Multiplies the learning rate by `factor` when `monitor` plateaus.

    Keras's `ReduceLROnPlateau` with three fixes: it also works on an
    optimizer compiled with a `LearningRateSchedule` (it scales the schedule
    by installing a `ScaledSchedule`, where Keras raises `TypeError`); a NaN
    or infinite value is never an improvement (Keras's NaN-first trap); and
    an unknown `monitor` is an error, not a warning. Its state can be saved
    and restored (`state_dict` / `load_state_dict`).

    After `patience` epochs without an improvement larger than `min_delta`,
    lr <- max(lr * factor, min_learning_rate), then `cooldown` epochs pass
    before the count starts again (PyTorch's `ReduceLROnPlateau` meaning;
    Keras's skips `cooldown - 1`, so Keras's `cooldown=c` is ours `c - 1`).
    On a schedule, "lr" is the rate at the current step, and the whole
    schedule is scaled from then on. Under mixed precision it drives the
    `LossScaleOptimizer`'s inner optimizer.

    Args:
        monitor: Key of the epoch logs to watch.
        factor: Multiplier of the learning rate, in (0, 1).
        patience: Epochs without improvement before a reduction (>= 0; as
            in Keras, 0 and 1 both reduce at the first epoch that does not
            improve).
        mode: `"auto"`, `"min"` or `"max"`.
        min_delta: Smallest change that counts as an improvement.
        cooldown: Epochs to wait after a reduction (>= 0).
        min_learning_rate: Lower bound of the learning rate (>= 0).
        verbose: 1 prints a line on each reduction.

    Attributes:
        best: Best monitored value so far (`None` before the first finite one).
        wait: Epochs since the last improvement.
        scale: Product of all reductions made so far.

    Raises:
        ValueError: On a bad argument, or when `monitor` is missing from the
            logs at the end of an epoch.

    Example:

    >>> callback = PerformanceScheduling(monitor="val_loss", factor=0.5, patience=5)
    >>> model.fit(x, y, validation_split=0.1, epochs=50, callbacks=[callback])
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_learning_rate=0.0,
        verbose=0,
    ):
        super().__init__()
        self.monitor = monitor
        self.factor = check_number(
            "factor", factor, low=0, high=1, low_open=True, high_open=True
        )
        self.patience = check_int("patience", patience, low=0)
        self.mode = mode
        self.min_delta = min_delta
        self.cooldown = check_int("cooldown", cooldown, low=0)
        self.min_learning_rate = check_number(
            "min_learning_rate", min_learning_rate, low=0
        )
        self.verbose = verbose
        self._tracker = Monitor(monitor, mode, min_delta, owner="PerformanceScheduling")
        self._restored = False
        self._reset()

    @property
    def best(self):
        return self._tracker.best

    def _reset(self):
        self._tracker.reset()
        self.wait = 0
        self.cooldown_counter = 0
        self.scale = 1.0

    def state_dict(self):
        """The run state, as JSON-compatible values."""
        return {
            "best": self._tracker.best,
            "wait": self.wait,
            "cooldown_counter": self.cooldown_counter,
            "scale": self.scale,
        }

    def load_state_dict(self, state):
        """Restores a `state_dict`; the next `fit` continues from it."""
        self._tracker.best = state["best"]
        self.wait = int(state["wait"])
        self.cooldown_counter = int(state["cooldown_counter"])
        self.scale = float(state["scale"])
        self._restored = True

    def on_train_begin(self, logs=None):
        if not self._restored:
            self._reset()
        elif self.scale != 1.0:
            self._restore_schedule_scale()
        self._restored = False
        self._tracker.start_fit()

    def on_train_end(self, logs=None):
        self._tracker.check_seen()

    def _restore_schedule_scale(self):
        # A float learning rate is a variable: a backup restores it. A schedule
        # is not: after a restart the optimizer has its compiled schedule
        # again, so the reductions made so far are put back here (unless the
        # model was itself loaded with its ScaledSchedule).
        optimizer = applying_optimizer(self.model.optimizer)
        schedule = learning_rate_slot(optimizer)
        if has_float_learning_rate(optimizer) or isinstance(schedule, ScaledSchedule):
            return
        optimizer.learning_rate = ScaledSchedule(schedule, self.scale)
        rebuild_train_step(self.model)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        value = self._tracker.value(logs, self.model)
        if value is None:
            return  # No validation this epoch (`validation_freq`).
        # Through `self.model`: syncs JAX state. Under mixed precision, the
        # LossScaleOptimizer's inner optimizer applies the update.
        optimizer = applying_optimizer(self.model.optimizer)
        if isinstance(learning_rate_slot(optimizer), ScheduledValue):
            raise ValueError(
                "PerformanceScheduling cannot be combined with another "
                "scheduling callback in the same fit (OneCycle, PowerScheduling, "
                "ExponentialScheduling, PiecewiseConstantScheduling)."
            )
        if self._tracker.update(value):
            self.wait = 0
        elif self.cooldown_counter > 0:
            self.cooldown_counter -= 1
        else:
            self.wait += 1
            if self.wait >= max(self.patience, 1):
                self._reduce(optimizer, epoch)
                self.cooldown_counter = self.cooldown
                self.wait = 0
        logs["learning_rate"] = _current_learning_rate(optimizer)

    def _reduce(self, optimizer, epoch):
        old = _current_learning_rate(optimizer)
        new = max(old * self.factor, self.min_learning_rate)
        if new >= old:
            return
        if has_float_learning_rate(optimizer):
            optimizer.learning_rate = new
        else:
            schedule = learning_rate_slot(optimizer)
            if isinstance(schedule, ScaledSchedule):
                base, scale = schedule.schedule, schedule.factor
            else:
                base, scale = schedule, 1.0
            optimizer.learning_rate = ScaledSchedule(base, scale * new / old)
            # The compiled step holds the old schedule: rebuild it.
            rebuild_train_step(self.model)
        self.scale *= new / old
        if self.verbose:
            print(
                f"\nEpoch {epoch + 1}: PerformanceScheduling reduced the learning "
                f"rate from {old:.4g} to {new:.4g} ({self.monitor} did not improve "
                f"for {self.patience} epochs)."
            )


def _current_learning_rate(optimizer):
    return float(ops.convert_to_numpy(optimizer.learning_rate))
