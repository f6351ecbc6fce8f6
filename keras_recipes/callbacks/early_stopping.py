"""`EarlyStopping`: stop when the monitored metric stops improving, NaN-safe."""

import math

import keras

from keras_recipes._internal.state import restore, snapshot
from keras_recipes._internal.validation import check_bool, check_int, check_number
from keras_recipes.callbacks._monitor import Monitor


class EarlyStopping(keras.callbacks.Callback):
    """Stops training when `monitor` stops improving, and says why.

    Keras's `EarlyStopping` with the NaN trap fixed (in Keras a NaN first
    value becomes `best`, and training stops early): NaN and Inf are never
    best. Training stops
    for one of these reasons, recorded in `stopped_reason`:

    * `"patience"`: no improvement larger than `min_delta` for `patience`
      epochs (counted from `start_from_epoch`), or `baseline` not beaten
      within `patience` epochs;
    * `"non-finite"`: the monitored value is NaN or Inf (`check_finite`);
    * `"threshold"`: the value reached `stopping_threshold`;
    * `"divergence"`: the value is worse than `divergence_threshold`.

    With `restore_best_weights=True` (default) the weights of the best epoch
    are put back at the end of training, whatever ended it, and with them
    the optimizer's state of that epoch (step count, slots): Keras's own
    `EarlyStopping` restores the weights only, so after a NaN stop the
    optimizer's slots stay NaN and the next `fit` is NaN from its first step.
    (After a restart through `ResumableBackup` the best weights come back
    from the backup, the optimizer's state of that epoch does not: the
    restore then puts back the weights only.) The run state
    (`state_dict` / `load_state_dict`, `best_weights`) survives a restart
    through `ResumableBackup`.

    Args:
        monitor: Key of the epoch logs to watch.
        mode: `"auto"`, `"min"` or `"max"`.
        min_delta: Smallest change that counts as an improvement.
        patience: Epochs without improvement before stopping (>= 0; as in
            Keras, 0 and 1 both stop at the first epoch that does not
            improve).
        baseline: A value the monitor must beat within `patience` epochs.
        start_from_epoch: Epochs to wait before watching (warm-up).
        restore_best_weights: Restore the best epoch's weights at the end.
        check_finite: Stop at once on a NaN or Inf value.
        stopping_threshold: Stop as soon as the value is this good.
        divergence_threshold: Stop as soon as the value is worse than this.
        verbose: 1 prints a line when training is stopped.

    Attributes:
        best: Best monitored value (`None` before a finite one).
        best_epoch: Epoch (1-based) of `best`.
        wait: Epochs since the last improvement.
        stopped_epoch: Epoch (1-based) at which training stopped, or 0.
        stopped_reason: Why it stopped (see above), or `None`.

    Raises:
        ValueError: On a bad argument, or if `monitor` is missing from the logs.

    Example:

    >>> stopper = EarlyStopping(monitor="val_loss", patience=5)
    >>> model.fit(x, y, validation_split=0.1, epochs=100, callbacks=[stopper])
    >>> stopper.stopped_reason, stopper.best_epoch
    """

    def __init__(
        self,
        monitor="val_loss",
        mode="auto",
        min_delta=0.0,
        patience=10,
        baseline=None,
        start_from_epoch=0,
        restore_best_weights=True,
        check_finite=True,
        stopping_threshold=None,
        divergence_threshold=None,
        verbose=0,
    ):
        super().__init__()
        self.monitor = monitor
        # Keras's meaning: 0 and 1 both stop at the first epoch without
        # improvement.
        self.patience = check_int("patience", patience, low=0)
        self.start_from_epoch = check_int("start_from_epoch", start_from_epoch, low=0)
        self.baseline = None if baseline is None else check_number("baseline", baseline)
        self.restore_best_weights = check_bool(
            "restore_best_weights", restore_best_weights
        )
        self.check_finite = check_bool("check_finite", check_finite)
        self.stopping_threshold = (
            None
            if stopping_threshold is None
            else check_number("stopping_threshold", stopping_threshold)
        )
        self.divergence_threshold = (
            None
            if divergence_threshold is None
            else check_number("divergence_threshold", divergence_threshold)
        )
        self.verbose = verbose
        self._tracker = Monitor(monitor, mode, min_delta, owner="EarlyStopping")
        self.mode = mode
        self._restored = False
        self._reset()

    def _reset(self):
        self._tracker.reset()
        self.best_epoch = 0
        self.wait = 0
        self.stopped_epoch = 0
        self.stopped_reason = None
        self.best_weights = None
        self._best_optimizer_state = None

    @property
    def best(self):
        return self._tracker.best

    def state_dict(self):
        """The run state as JSON-compatible values (without `best_weights`)."""
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "stopped_reason": self.stopped_reason,
        }

    def load_state_dict(self, state):
        """Restores a `state_dict`; the next fit goes on from it."""
        self._tracker.best = state["best"]
        self.best_epoch = int(state["best_epoch"])
        self.wait = int(state["wait"])
        self.stopped_epoch = int(state["stopped_epoch"])
        self.stopped_reason = state["stopped_reason"]
        self._restored = True

    def array_state(self):
        """The best weights (a list of arrays), or `None`."""
        return self.best_weights

    def load_array_state(self, arrays):
        """Restores the best weights saved by `array_state`."""
        self.best_weights = arrays
        self._best_optimizer_state = None  # not in the backup
        self._restored = True

    def on_train_begin(self, logs=None):
        if not self._restored:
            self._reset()
        self._restored = False
        self._tracker.start_fit()

    def on_epoch_end(self, epoch, logs=None):
        value = self._tracker.value(logs, self.model)
        if value is None or epoch < self.start_from_epoch:
            return  # No validation this epoch (`validation_freq`), or too soon.
        reason = None
        if self._tracker.update(value):
            self.best_epoch = epoch + 1
            self.wait = 0
            if self.restore_best_weights:
                self.best_weights = snapshot(self.model.weights)
                optimizer = self.model.optimizer
                self._best_optimizer_state = (
                    snapshot(optimizer.variables) if optimizer is not None else None
                )
        else:
            self.wait += 1
        if self.check_finite and not math.isfinite(value):
            reason = "non-finite"
        elif self.stopping_threshold is not None and self._tracker.better(
            value, self.stopping_threshold, or_equal=True
        ):
            reason = "threshold"
        elif self.divergence_threshold is not None and not self._tracker.better(
            value, self.divergence_threshold, or_equal=True
        ):
            reason = "divergence"
        elif self.wait >= max(self.patience, 1):
            reason = "patience"
        elif (
            self.baseline is not None
            and epoch + 1 - self.start_from_epoch >= max(self.patience, 1)
            and not (
                self.best is not None and self._tracker.better(self.best, self.baseline)
            )
        ):
            reason = "patience"
        if reason is not None:
            self.stopped_epoch = epoch + 1
            self.stopped_reason = reason
            self.model.stop_training = True
            if self.verbose:
                print(
                    f"\nEpoch {epoch + 1}: early stopping ({reason}); best "
                    f"{self.monitor} = {self.best} at epoch {self.best_epoch}."
                )

    def on_train_end(self, logs=None):
        self._tracker.check_seen()
        if self.restore_best_weights and self.best_weights is not None:
            for variable, value in zip(
                self.model.weights, self.best_weights, strict=True
            ):
                variable.assign(value)
            optimizer = self.model.optimizer
            if self._best_optimizer_state is not None and len(
                optimizer.variables
            ) == len(self._best_optimizer_state):
                restore(optimizer.variables, self._best_optimizer_state)
