"""`NaNGuard`: stop on a non-finite loss and put back the last finite weights."""

import math
import time

import keras
from keras import ops

from keras_recipes._internal.driver import accumulation_steps, applying_optimizer
from keras_recipes._internal.state import restore, snapshot, training_variables
from keras_recipes._internal.validation import check_number, check_positive_int


class NaNGuard(keras.callbacks.Callback):
    """Stops training when the loss turns NaN or Inf, and undoes the damage.

    Keras's `TerminateOnNaN` stops, but leaves the model with the weights
    that produced the NaN. This callback checks the loss of every step and,
    on a non-finite one, stops training and restores the last state that a
    finite loss vouched for: the weights and the optimizer's state (its
    slots, such as momenta, turn non-finite with the weights).

    The loss logged after step t is computed with the weights before step t,
    so a finite loss vouches for the weights the step started from.

    By default (`check_every=None`) nothing is copied or read per step:

    * The batch hook reads the loss that Keras already hands to the
      callbacks. It is async-safe, so on JAX and PyTorch Keras 3.15 runs it
      on its callback thread (unless another callback's batch hook is not;
      on TensorFlow Keras never does), and the train loop never waits for
      it. Training stops at the next batch after the hook saw the loss (a
      step or two late).
    * The weights and optimizer state are copied to host memory at an
      epoch's end, when the time since the last copy makes the copies cost
      at most `copy_budget` (2 %) of the training time: every epoch once an
      epoch takes more than 50 copies' time (a 16 MB copy takes a few
      milliseconds), else every few epochs. On a non-finite loss, at the end
      of the epoch where training stopped, the last copy is restored if a
      finite step came after it (the copy of the previous epoch's end needs
      a finite step in this epoch before the bad one), else the one before
      it.

    With `check_every=k` the state is copied every k batches instead (the
    restored state is then at most 2 x k steps older than the bad step), at
    the price of a host copy and a wait for the device every k steps: 1.3x
    (PyTorch) to 2.1x (JAX) per epoch on a 1.3M-parameter model with k=1,
    against 1.01-1.19x by default (docs/benchmarks.md). Use it when an epoch
    is long.

    Args:
        check_every: `None` (the default: copies at epoch ends) or the
            batches between copies (>= 1). With `steps_per_execution=N` the
            batch hooks fire every N steps.
        copy_budget: With `check_every=None`, the largest fraction of the
            training time spent on copies (0 < copy_budget <= 1), or `None`
            for a copy at every epoch's end whatever it costs.
        verbose: 1 prints what happened.

    Attributes:
        bad_step: Optimizer step (1-based) whose loss was first seen
            non-finite, or `None`.
        bad_epoch: Epoch (1-based) of `bad_step`, or `None`.
        restored_step: Optimizer step count of the restored state (the
            weights after that many updates), or `None`.

    Example:

    >>> guard = NaNGuard()
    >>> model.fit(x, y, epochs=10, callbacks=[guard])
    >>> guard.bad_step  # None if training stayed finite
    """

    def __init__(self, check_every=None, copy_budget=0.02, verbose=1):
        super().__init__()
        self.check_every = check_positive_int(
            "check_every", check_every, allow_none=True
        )
        self.copy_budget = (
            None
            if copy_budget is None
            else check_number("copy_budget", copy_budget, low=0, high=1, low_open=True)
        )
        self.verbose = verbose
        # Read by Keras's CallbackList: the default batch hook only reads the
        # logs and sets flags, so it may run on Keras's callback thread.
        self.async_safe = self.check_every is None

    def on_train_begin(self, logs=None):
        self.bad_step = self.bad_epoch = self.restored_step = None
        self._epoch = 0
        self._batches = 0
        self._accumulation = accumulation_steps(self.model.optimizer)
        # (step, state): the last copy vouched for by a finite loss (the
        # state the fit began with needs none), and the one waiting for it.
        self._good, self._pending = self._timed_copy(), None
        if self.check_every is not None:
            self._pending = self._good

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_start_step = self._step()
        # Batch indices of this epoch with a finite / non-finite loss.
        self._finite, self._bad = [], []

    def on_train_batch_end(self, batch, logs=None):
        loss = float((logs or {}).get("loss", math.nan))
        if self.check_every is None:
            self._note(batch, math.isfinite(loss))
            return
        self._batches += 1
        if self._batches % self.check_every:
            return
        if math.isfinite(loss):
            self._good, self._pending = self._pending, (self._step(), self._copy())
            return
        self.bad_step = self._step()
        self._restore(self._good, loss)

    def _note(self, batch, finite):
        # May run on Keras's callback thread, out of order: it only appends
        # (atomic in CPython) and reads nothing of the model. The logged loss
        # is the epoch's running mean, non-finite from the first bad step on,
        # so the smallest such batch is that step.
        (self._finite if finite else self._bad).append(batch)

    def on_train_batch_begin(self, batch, logs=None):
        # On the train loop's thread: Keras 3.15 on JAX fails ("Buffer has
        # been deleted or donated") in 22 of 30 fits stopped from its
        # callback thread.
        if self._bad:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self.check_every is not None or self.bad_epoch is not None:
            return
        first_bad = min(self._bad, default=None)
        if first_bad is None and not math.isfinite(
            float((logs or {}).get("loss", 0.0))
        ):
            first_bad = 0  # No batch hook saw it: assume the first step.
        if first_bad is None:
            # The epoch's first step vouched for the copy taken before it.
            if self._pending is not None:
                self._good, self._pending = self._pending, None
            if self._copy_due():
                self._pending = self._timed_copy()
            return
        # A copy taken before the epoch is vouched for if a step before the
        # bad one was finite.
        vouched = min(self._finite, default=first_bad) < first_bad
        self.bad_step = self._epoch_start_step + (first_bad + 1) // self._accumulation
        state = self._pending if vouched and self._pending is not None else self._good
        self._restore(state, (logs or {}).get("loss"))

    def _copy_due(self):
        if self.copy_budget is None:
            return True
        training = time.perf_counter() - self._copied_at
        return training * self.copy_budget >= self._copy_seconds

    def _timed_copy(self):
        start = time.perf_counter()
        state = (self._step(), self._copy())
        self._copied_at = time.perf_counter()
        self._copy_seconds = self._copied_at - start
        return state

    def _restore(self, state, loss):
        self.bad_epoch = self._epoch + 1
        self.restored_step, values = state
        restore(training_variables(self.model), values)
        self.model.stop_training = True
        if self.verbose:
            print(
                f"\nNaNGuard: loss is {loss} at step {self.bad_step} (epoch "
                f"{self.bad_epoch}); stopped and restored the weights of step "
                f"{self.restored_step}."
            )

    def _copy(self):
        return snapshot(training_variables(self.model))

    def _step(self):
        # The optimizer that applies the update counts them (a wrapper's own
        # `iterations` stays at 0 on Keras 3.8).
        iterations = applying_optimizer(self.model.optimizer).iterations
        return int(ops.convert_to_numpy(iterations))
