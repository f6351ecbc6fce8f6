"""`NaNGuard`: stop on a non-finite loss and put back the last finite weights."""

import math

import keras
from keras import ops

from keras_recipes._internal.state import restore, snapshot, training_variables
from keras_recipes._internal.validation import check_positive_int


class NaNGuard(keras.callbacks.Callback):
    """Stops training when the loss turns NaN or Inf, and undoes the damage.

    Keras's `TerminateOnNaN` stops, but leaves the model with the weights
    that produced the NaN. This callback checks the loss every
    `check_every` batches. The loss logged after step t was computed with
    the weights of step t - 1, so a finite loss vouches for the copy taken
    at the previous check; on a non-finite loss the last vouched-for copy is
    restored (the weights and the optimizer's state: its slots, such as
    momenta, turn non-finite with the weights), training stops, and the bad
    step is recorded.

    Checking reads the loss every `check_every` batches, and each finite
    check copies the weights and optimizer state to host memory: on a large
    model raise `check_every` (the restored state is then up to 2 x
    `check_every` steps older than the bad step).

    Args:
        check_every: Batches between checks (>= 1). With
            `steps_per_execution=N` the batch hooks fire every N steps.
        verbose: 1 prints what happened.

    Attributes:
        bad_step: Optimizer step (1-based) after which the loss was first seen
            non-finite, or `None`.
        bad_epoch: Epoch (1-based) of `bad_step`, or `None`.
        restored_step: Optimizer step whose weights were restored, or `None`.

    Example:

    >>> guard = NaNGuard()
    >>> model.fit(x, y, epochs=10, callbacks=[guard])
    >>> guard.bad_step  # None if training stayed finite
    """

    def __init__(self, check_every=1, verbose=1):
        super().__init__()
        self.check_every = check_positive_int("check_every", check_every)
        self.verbose = verbose

    def on_train_begin(self, logs=None):
        self.bad_step = self.bad_epoch = self.restored_step = None
        # (step, weights): vouched for by a finite loss / waiting for one.
        self._good = self._pending = (self._step(), self._copy())
        self._epoch = 0
        self._batches = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1
        if self._batches % self.check_every:
            return
        loss = float((logs or {}).get("loss", math.nan))
        if math.isfinite(loss):
            self._good, self._pending = self._pending, (self._step(), self._copy())
            return
        self.bad_step, self.bad_epoch = self._step(), self._epoch + 1
        self.restored_step, state = self._good
        restore(training_variables(self.model), state)
        self.model.stop_training = True
        if self.verbose:
            print(
                f"\nNaNGuard: loss is {loss} after step {self.bad_step} (epoch "
                f"{self.bad_epoch}); stopped and restored the weights of step "
                f"{self.restored_step}."
            )

    def _copy(self):
        return snapshot(training_variables(self.model))

    def _step(self):
        return int(ops.convert_to_numpy(self.model.optimizer.iterations))
