"""Watching one metric of the epoch logs: direction, improvement, NaN safety.

Shared by the callbacks that compare a monitored value with the best so far.
A value that is NaN or infinite is never an improvement and never "best".
"""

import math
import warnings

import numpy as np

from keras_recipes._internal.keras_internals import metric_direction
from keras_recipes._internal.validation import check_choice, check_number

MODES = ("auto", "min", "max")

# Whole words (the last one or two of a metric's name, split at "_") that
# tell its direction, the fallback of `mode="auto"` when the model's
# metrics do not say.
_HIGHER_IS_BETTER = {
    "acc",
    "accuracy",
    "auc",
    "precision",
    "recall",
    "f1",
    "f1_score",
    "fbeta_score",
    "iou",
    "r2",
    "r2_score",
    "similarity",
    "specificity",
    "sensitivity",
}
_LOWER_IS_BETTER = {
    "loss", "error", "mse", "mae", "mape", "msle", "rmse", "crossentropy",
    "hinge", "divergence", "poisson", "logcosh",
}  # fmt: skip


def resolve_mode(monitor, mode, model=None):
    """Returns `"min"` or `"max"` for `monitor`.

    `"auto"` decides as Keras's own callbacks do, then by the name:

    1. a loss (`loss`, `val_loss`, `<output>_loss`) is minimised;
    2. a compiled metric of `model` (its name, or `<output>_<name>` of a
       multi-output model) goes the way the metric says (Keras's
       `Metric._direction`);
    3. otherwise the last word or two of the name, as whole words:
       accuracy, auc, precision, recall, f1_score, iou, r2_score... are
       maximised; error, mse, mae, crossentropy, hinge... minimised.

    Raises:
        ValueError: If `mode` is invalid, or `"auto"` and none of these
            tells.
    """
    check_choice("mode", mode, MODES)
    if mode != "auto":
        return mode
    name = monitor.removeprefix("val_")
    if name == "loss" or name.endswith("_loss"):
        return "min"
    direction = _compiled_direction(model, name)
    if direction is not None:
        return "max" if direction == "up" else "min"
    words = name.lower().split("_")
    for tail in ("_".join(words[-2:]), words[-1]):
        if tail in _HIGHER_IS_BETTER:
            return "max"
        if tail in _LOWER_IS_BETTER:
            return "min"
    raise ValueError(
        f"mode='auto' cannot tell whether `{monitor}` should be minimised or "
        "maximised: it is not a loss, no compiled metric of the model says, "
        "and its name ends in no known word. Pass mode='min' or mode='max'. "
        f"Received: monitor={monitor!r}, mode='auto'"
    )


def _compiled_direction(model, name):
    """ "up"/"down" of the model's compiled metric that logs as `name`: the
    metric's own name, or `<output>_<name>` (the longest such name wins)."""
    if model is None:
        return None
    metrics, found = list(getattr(model, "metrics", None) or []), []
    while metrics:
        metric = metrics.pop()
        inner = getattr(metric, "metrics", None)  # CompileMetrics, MetricsList
        if isinstance(inner, (list, tuple)):
            metrics.extend(inner)
        elif name == metric.name or name.endswith("_" + metric.name):
            direction = metric_direction(metric)
            if direction in ("up", "down"):
                found.append((len(metric.name), direction))
    return max(found)[1] if found else None


class Monitor:
    """Tracks the best value of one metric.

    Args:
        monitor: Key of the epoch logs, e.g. `"val_loss"`.
        mode: `"min"`, `"max"` or `"auto"` (see `resolve_mode`; decided at
            the first value, once the model and the logs are known).
        min_delta: Smallest change that counts as an improvement (>= 0).
        owner: Name of the callback, for error messages.

    Raises:
        TypeError: If `monitor` is not a string.
        ValueError: If `mode` or `min_delta` is invalid.
    """

    def __init__(self, monitor, mode="auto", min_delta=0.0, owner="callback"):
        if not isinstance(monitor, str):
            raise TypeError(
                f"`monitor` must be a string. Received: monitor={monitor!r}"
            )
        self.monitor = monitor
        self.requested_mode = check_choice("mode", mode, MODES)
        # "min" or "max"; for "auto", `None` until the first `value`.
        self.mode = None if mode == "auto" else mode
        self.min_delta = check_number("min_delta", min_delta, low=0)
        self.owner = owner
        self.best = None
        self._warned = False
        self.start_fit()

    def start_fit(self):
        """At each fit's start: no epoch of it has shown the key yet."""
        self._seen = False
        self._keys_without = None  # The keys of a skipped epoch's logs.

    def reset(self):
        self.best = None
        if self.requested_mode == "auto":
            self.mode = None  # Resolved again, against the next fit's model.

    def value(self, logs, model=None):
        """The monitored value in `logs` as a float; resolves `mode="auto"`
        (from `model`'s metrics) the first time. `None` for an epoch that did
        not validate (no `val_` key at all) when the key is a validation
        metric: `fit(validation_freq=k)` (warned once; see `check_seen`).

        Raises:
            ValueError: If `logs` lacks the monitored key (lists the keys),
                the value holds more than one number, or `mode="auto"`
                cannot be resolved.
        """
        logs = logs or {}
        if self.monitor not in logs:
            if self.monitor.startswith("val_") and not any(
                key.startswith("val_") for key in logs
            ):
                # An epoch that did not validate (`fit(validation_freq=k)`).
                self._skip(logs)
                return None
            self._refuse(logs, "is not in the epoch logs")
        self._seen = True
        value = np.asarray(logs[self.monitor], dtype="float64")
        if value.size != 1:
            raise ValueError(
                f"{self.owner} monitors `{self.monitor}`, which holds "
                f"{value.size} values (shape {value.shape}); it can watch one "
                "number. Compile the metric to give one (e.g. "
                "`F1Score(average='macro')`) or monitor another key."
            )
        if self.mode is None:
            self.mode = resolve_mode(self.monitor, "auto", model)
        return float(value.reshape(()))

    def check_seen(self):
        """At a fit's end: raises `ValueError` if every epoch of it was
        skipped for want of validation metrics (none validated)."""
        if not self._seen and self._keys_without is not None:
            self._refuse(self._keys_without, "was in no epoch's logs of this fit")

    def _skip(self, logs):
        self._keys_without = sorted(logs)
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"{self.owner} monitors `{self.monitor}`, and an epoch's logs hold "
                "no validation metrics (fit's `validation_freq` > 1): such "
                "epochs are skipped, as Keras's own callbacks skip them. A fit "
                "in which no epoch validates is an error at its end.",
                stacklevel=3,
            )

    def _refuse(self, logs, where):
        available = ", ".join(sorted(logs)) or "none"
        raise ValueError(
            f"{self.owner} monitors `{self.monitor}`, which {where}. Available "
            f"keys: {available}. (Validation metrics need `validation_data` or "
            "`validation_split` in `fit`.)"
        )

    def is_improvement(self, value):
        """Whether `value` beats the best so far by more than `min_delta`."""
        return self.improves_on(value, self.best)

    def improves_on(self, value, reference):
        """Whether `value` beats `reference` (`None`: nothing yet) by more
        than `min_delta`; a non-finite `value` never does."""
        if not math.isfinite(value):
            return False
        if reference is None:
            return True
        return self.better(value, reference, margin=self.min_delta)

    def better(self, value, reference, margin=0.0, or_equal=False):
        """Whether `value` is better than `reference` by more than `margin`
        (`or_equal`: at least as good) in this monitor's direction: the one
        comparison of the callbacks that watch a metric."""
        gain = self.ordered(reference) - self.ordered(value) - margin
        return gain >= 0 if or_equal else gain > 0

    def ordered(self, value):
        """`value` as a key that sorts the best first."""
        if self.mode is None:  # Compared before any `value`: by the name.
            self.mode = resolve_mode(self.monitor, "auto")
        return value if self.mode == "min" else -value

    def update(self, value):
        """Records `value`; returns whether it was an improvement."""
        improved = self.is_improvement(value)
        if improved:
            self.best = value
        return improved
