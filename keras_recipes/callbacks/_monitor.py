"""Watching one metric of the epoch logs: direction, improvement, NaN safety.

Shared by the callbacks that compare a monitored value with the best so far.
A value that is NaN or infinite is never an improvement and never "best".
"""

import math

from keras_recipes._internal.validation import check_choice, check_number

MODES = ("auto", "min", "max")

# Parts of metric names that tell their direction, for `mode="auto"`.
_HIGHER_IS_BETTER = ("acc", "auc", "precision", "recall", "f1", "iou", "r2")
_LOWER_IS_BETTER = (
    "loss", "error", "mse", "mae", "mape", "msle", "crossentropy", "hinge",
    "kl_divergence", "poisson", "logcosh",
)  # fmt: skip


def resolve_mode(monitor, mode):
    """Returns `"min"` or `"max"` for `monitor`.

    `"auto"` reads the direction from the metric's name (accuracy-like names
    are maximised, loss- and error-like names minimised).

    Raises:
        ValueError: If `mode` is invalid, or `"auto"` and the name tells
            nothing.
    """
    check_choice("mode", mode, MODES)
    if mode != "auto":
        return mode
    name = monitor.lower()
    if any(key in name for key in _HIGHER_IS_BETTER):
        return "max"
    if any(key in name for key in _LOWER_IS_BETTER):
        return "min"
    raise ValueError(
        f"mode='auto' cannot tell whether `{monitor}` should be minimised or "
        "maximised. Pass mode='min' or mode='max'. "
        f"Received: monitor={monitor!r}, mode='auto'"
    )


class Monitor:
    """Tracks the best value of one metric.

    Args:
        monitor: Key of the epoch logs, e.g. `"val_loss"`.
        mode: `"min"`, `"max"` or `"auto"` (from the name: accuracy-like
            metrics are maximised, loss- and error-like ones minimised).
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
        self.mode = resolve_mode(monitor, mode)
        self.min_delta = check_number("min_delta", min_delta, low=0)
        self.owner = owner
        self.best = None

    def reset(self):
        self.best = None

    def value(self, logs):
        """The monitored value in `logs` as a float.

        Raises:
            ValueError: If `logs` lacks the monitored key (lists the keys).
        """
        logs = logs or {}
        if self.monitor not in logs:
            available = ", ".join(sorted(logs)) or "none"
            raise ValueError(
                f"{self.owner} monitors `{self.monitor}`, which is not in the "
                f"epoch logs. Available keys: {available}. (Validation metrics "
                "need `validation_data` or `validation_split` in `fit`.)"
            )
        return float(logs[self.monitor])

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
        if self.mode == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def update(self, value):
        """Records `value`; returns whether it was an improvement."""
        improved = self.is_improvement(value)
        if improved:
            self.best = value
        return improved
