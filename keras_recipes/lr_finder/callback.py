"""`LRFinder`: the learning-rate range test as a callback."""

import functools
import math

import keras
import numpy as np
from keras import ops

from keras_recipes._internal.driver import (
    ScheduleDriver,
    accumulation_steps,
    applying_optimizer,
)
from keras_recipes._internal.keras_internals import live_reader
from keras_recipes._internal.state import restore, snapshot, training_variables
from keras_recipes._internal.validation import (
    check_choice,
    check_int,
    check_number,
)
from keras_recipes._internal.versions import refuse_tf_replicas_before
from keras_recipes.lr_finder.algorithms import (
    SUGGESTERS,
    DivergenceWatch,
    smooth,
    suggest_all,
)
from keras_recipes.lr_finder.result import LRFinderResult
from keras_recipes.lr_finder.sweep import MODES, Sweep

# The longest sweep the finder runs (fastai's default is 100 steps).
MAX_STEPS = 100_000


class LRFinder(keras.callbacks.Callback):
    """Sweeps the learning rate up during a fit and records the loss per batch.

    The LR range test (Smith; fastai's `lr_find`): over `num_steps` optimizer
    steps the learning rate grows from `min_learning_rate` to
    `max_learning_rate` (evaluated inside the compiled train step, exact with
    `steps_per_execution`), the loss of every batch is recorded (Keras's logs
    hold the epoch's running mean; the callback takes each batch's from the
    sums of Keras's loss tracker, without a state sync on JAX), and the
    sweep stops early when the smoothed loss exceeds `divergence_threshold`
    times its best or turns NaN/Inf. Then **the model is restored
    exactly**: every model variable bit for bit and the optimizer's state
    (iterations, slots, learning rate; an optimizer not built before the
    sweep is left built, at its initial values). Under mixed precision the
    sweep drives the `LossScaleOptimizer`'s inner optimizer; gradient
    accumulation is refused at `on_train_begin`.

    The callback ends the fit when the sweep is over; prefer
    `keras_recipes.find_learning_rate`, which runs the fit for you.

    Args:
        min_learning_rate: First learning rate of the sweep (> 0).
        max_learning_rate: Last learning rate (> min_learning_rate).
        num_steps: Optimizer steps in the sweep (>= 10).
        mode: `"exponential"` (default) or `"linear"` sweep.
        divergence_threshold: Stop when the smoothed loss exceeds this times
            its best (> 1); `None` stops only on NaN/Inf.
        beta: Smoothing factor of the moving average (fastai: 0.98).
        method: Default suggestion: `"valley"` (fastai's default),
            `"steep"` (fastai's, against log(lr)), `"minimum"` (min / 10) or
            `"slide"`.
        validation_data: Optional `(x, y)` arrays: sweep on the loss on them
            after each step instead of the training batch's loss. Keep it
            small (one batch, e.g. 256 samples): it is evaluated every step.
        verbose: 1 prints progress and the result, 0 is silent.

    Attributes:
        result: The `LRFinderResult` of the last sweep (`None` before).

    Raises:
        ValueError: On a bad argument; at `on_train_begin` if the optimizer
            has no float learning rate.

    Example:

    >>> finder = LRFinder(num_steps=100)
    >>> model.fit(x, y, epochs=10, callbacks=[finder], verbose=0)
    >>> finder.result.suggestion, finder.result.suggestions

    Reference:
        L. N. Smith, "Cyclical Learning Rates for Training Neural Networks",
        arXiv:1506.01186, section 3.3.
    """

    def __init__(
        self,
        min_learning_rate=1e-7,
        max_learning_rate=10.0,
        num_steps=100,
        mode="exponential",
        divergence_threshold=4.0,
        beta=0.98,
        method="valley",
        validation_data=None,
        verbose=1,
    ):
        super().__init__()
        self.min_learning_rate = check_number(
            "min_learning_rate", min_learning_rate, low=0, low_open=True
        )
        self.max_learning_rate = check_number(
            "max_learning_rate", max_learning_rate, low=0, low_open=True
        )
        if self.min_learning_rate >= self.max_learning_rate:
            raise ValueError(
                "`min_learning_rate` must be < `max_learning_rate`. Received: "
                f"min_learning_rate={min_learning_rate}, "
                f"max_learning_rate={max_learning_rate}"
            )
        # A sweep needs a few points; 100,000 steps is already hours of a
        # sweep that fastai does in 100.
        self.num_steps = check_int("num_steps", num_steps, low=10, high=MAX_STEPS)
        self.mode = check_choice("mode", mode, MODES)
        if divergence_threshold is not None:
            divergence_threshold = check_number(
                "divergence_threshold", divergence_threshold, low=1, low_open=True
            )
        self.divergence_threshold = divergence_threshold
        self.beta = check_number("beta", beta, low=0, high=1, high_open=True)
        self.method = check_choice("method", method, tuple(SUGGESTERS))
        if validation_data is not None and (
            not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2
        ):
            raise TypeError(
                "`validation_data` must be a tuple `(x, y)`. "
                f"Received: validation_data of type {type(validation_data).__name__}"
            )
        self.validation_data = validation_data
        self.verbose = verbose
        self.result = None
        self._sweep = Sweep(
            self.min_learning_rate, self.max_learning_rate, self.num_steps, self.mode
        )

    def on_train_begin(self, logs=None):
        model = self.model
        refuse_tf_replicas_before(
            (3, 12),
            model,
            "The LR finder",
            "its loss tracker counts each batch once per replica and again at "
            "each step (the logged loss is wrong too), so no batch's loss can "
            "be read",
        )
        optimizer = applying_optimizer(model.optimizer)
        steps = accumulation_steps(optimizer)
        if steps > 1:
            # Keras applies one update per `steps` batches: the loss of the
            # batches between would be recorded against a rate not yet applied.
            raise ValueError(
                "The LR finder sweeps one learning rate per batch and cannot "
                f"run with gradient_accumulation_steps={steps}. Run it on the "
                "model compiled without accumulation and with a batch "
                f"{steps}x larger (the same batch per update), then compile "
                "it back."
            )
        self._driver = ScheduleDriver(optimizer, self._sweep, positions=self.num_steps)
        if not model.built:
            raise ValueError(
                "The LR finder needs a built model, to save its weights before "
                "the sweep. Give the model an `Input`, or call it on a batch "
                "(or `model.build(input_shape)`) first."
            )
        self._saved = snapshot(training_variables(model))
        self._start = _to_int(optimizer.iterations)
        self._done = 0
        self._learning_rates, self._losses = [], []
        # Each step's rate, computed once: a batch hook runs at every step,
        # where a step may take a fraction of a millisecond.
        self._rates = self._sweep.values(0, self.num_steps).tolist()
        self._stopped_reason = None
        self._watch = DivergenceWatch(self.beta, self.divergence_threshold)
        # A fit that raises calls no `on_train_end`: the next fit (or
        # `find_learning_rate` at once) undoes the sweep.
        self._driver.install(
            model, start_position=0, undo=functools.partial(self._restore, model)
        )
        # logs["loss"] is the mean since the epoch began, Keras's loss
        # tracker's total / count: a batch's loss is the change of the two
        # (float32 sums: at an epoch's k-th batch, within ~k * 6e-8 of the
        # epoch's mean loss).
        # They and `iterations` are read without `self.model`, which on JAX
        # syncs the whole state back into the variables at every read.
        tracker = _loss_tracker(model)
        watched = [tracker.total, tracker.count] if tracker is not None else []
        self._read = live_reader(model, [optimizer.iterations, *watched])
        self._from_sums = tracker is not None
        self._sums = None

    def on_epoch_begin(self, epoch, logs=None):
        # Keras has reset the metrics.
        self._sums = self._read_now()[1:]

    def on_train_batch_begin(self, batch, logs=None):
        if not self._from_sums:
            # A train step that does not update Keras's loss tracker: reset
            # the metrics, so that logs["loss"] is the batch's.
            self.model.reset_metrics()

    def _read_now(self):
        return [_host_float(v) for v in self._read()]

    def _batch_loss(self, now, logs):
        total, count = now
        last_total, last_count = self._sums
        self._sums = now
        if count > last_count:
            return (total - last_total) / (count - last_count)
        # The step left the tracker alone (a custom `train_step`): this was
        # the first batch since the metrics were reset; reset before each.
        self._from_sums = False
        return (logs or {})["loss"]

    def on_train_batch_end(self, batch, logs=None):
        iterations, *sums = self._read_now()
        done = int(iterations) - self._start
        # A step a LossScaleOptimizer skipped (non-finite gradients) applied
        # nothing: its loss goes with the rate it tried.
        self._learning_rates.append(self._rate(self._done, max(done, self._done + 1)))
        self._done = done
        if self.validation_data is not None:
            x, y = self.validation_data
            model = self.model
            # The loss of this batch alone: Keras 3.8's `test_on_batch` adds
            # it to the metrics' running state (later releases reset it
            # first, as this does).
            model.reset_metrics()
            loss = model.test_on_batch(x, y, return_dict=True)["loss"]
        elif self._from_sums:
            loss = self._batch_loss(sums, logs)
        else:
            loss = (logs or {})["loss"]
        self._losses.append(float(loss))
        self._report_progress()
        if self._watch.add(self._losses[-1]):
            kind = (
                "non-finite loss"
                if not math.isfinite(self._watch.smoothed)
                else f"loss above {self.divergence_threshold:g}x its best"
            )
            self._stop(f"diverged ({kind}) at lr={self._learning_rates[-1]:.3g}")
        elif done >= self.num_steps:
            self._stop(f"completed {self.num_steps} steps")

    def _rate(self, first, stop):
        """The rate of steps `first` to `stop - 1`: one step's, or their
        geometric mean (a batch that covered several steps)."""
        if stop == first + 1 and first < len(self._rates):
            return self._rates[first]
        rates = self._sweep.values(first, stop)
        return float(np.exp(np.log(rates).mean()))

    def _stop(self, reason):
        self._stopped_reason = reason
        self.model.stop_training = True

    def _restore(self, model):
        self._driver.restore(model)
        restore(training_variables(model), self._saved)
        model.reset_metrics()

    def on_train_end(self, logs=None):
        self._restore(self.model)
        smoothed = smooth(self._losses, self.beta)
        self.result = LRFinderResult(
            learning_rates=self._learning_rates,
            losses=self._losses,
            smoothed_losses=[float(v) for v in smoothed],
            suggestions=suggest_all(self._learning_rates, smoothed),
            method=self.method,
            stopped_reason=self._stopped_reason
            or f"the data ended after {self._done} steps",
            monitor="loss" if self.validation_data is None else "val_loss",
            steps=self._done,
        )
        if self.verbose:
            suggestion = self.result.suggestion
            shown = (
                "none (too few points)" if suggestion is None else f"{suggestion:.3g}"
            )
            print(
                f"LR finder: {self.result.stopped_reason}; suggested learning rate "
                f"({self.method}): {shown}"
            )

    def _report_progress(self):
        if not self.verbose:
            return
        every = max(1, self.num_steps // 10)
        if self._done // every != (self._done - 1) // every or len(self._losses) == 1:
            print(
                f"LR finder: step {self._done}/{self.num_steps}  "
                f"lr {self._learning_rates[-1]:.3g}  loss {self._losses[-1]:.4g}"
            )


def _host_float(value):
    # `float` of a variable or a scalar tensor: on TensorFlow a third of the
    # cost of `ops.convert_to_numpy` (15 against 52 us a read, at each step).
    try:
        return float(value)
    except TypeError:  # A `tf.distribute` variable (`MirroredVariable`).
        return float(ops.convert_to_numpy(value))


def _to_int(value):
    return int(ops.convert_to_numpy(value))


def _loss_tracker(model):
    # What logs["loss"] is: the first `Mean` named "loss" of `model.metrics`
    # (Keras's own tracker, or a custom `train_step`'s).
    for metric in model.metrics:
        if metric.name == "loss" and isinstance(metric, keras.metrics.Mean):
            return metric
    return None
