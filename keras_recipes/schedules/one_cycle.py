"""The 1cycle policy: one rise and one long fall of the learning rate."""

import math

import keras
from keras import ops

from keras_recipes._internal.validation import (
    check_choice,
    check_number,
    check_positive_int,
)

SHAPES = ("cosine", "linear")

# The momentum at the ends of the cycle and at its peak (fastai's `moms`).
MAX_MOMENTUM = 0.95
MIN_MOMENTUM = 0.85

# Defaults per shape: (pct_start, div_factor, final_div_factor).
_DEFAULTS = {
    # fastai's `fit_one_cycle`: start = max / 25, final = start / 1e5.
    "cosine": (0.25, 25.0, 1e5),
    # Smith's three phases (Géron's `OneCycleScheduler`): start = max / 10,
    # back to the start at 90 % of the steps, then down to start / 1000.
    "linear": (0.45, 10.0, 1e3),
}


@keras.saving.register_keras_serializable(package="keras_recipes")
class OneCycleSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Smith's 1cycle learning-rate policy, in its cosine or three-phase form.

    With progress p = clip(step / total_steps, 0, 1), start = max / div_factor
    and end = start / final_div_factor:

    * `shape="cosine"` (default): cosine annealing from start up to max while
      p < pct_start, then cosine annealing from max down to end:
      lr = a + (b - a) * (1 - cos(pi * q)) / 2, q the progress in the phase.
    * `shape="linear"`: three linear phases, start -> max for p < pct_start,
      max -> start for p < 2 * pct_start, then start -> end.

    The cosine form is the default because it is what fastai's
    `fit_one_cycle` and PyTorch's `OneCycleLR` use (so LRs found for them
    transfer), its smooth turns avoid the kink at the peak, and it spends
    more of the run near the maximum, where 1cycle gets its speed-up. The
    linear form reproduces Smith (2018) and Géron's `OneCycleScheduler`.

    Steps past `total_steps` keep the final learning rate.

    Args:
        max_learning_rate: The peak learning rate. Must be > 0.
        total_steps: Steps in the whole cycle. Must be >= 1.
        shape: `"cosine"` or `"linear"`.
        pct_start: Fraction of the steps spent rising (fastai's and PyTorch's
            `pct_start`). Defaults to 0.25 (cosine) or 0.45 (linear, which
            leaves the last 10 % for the final annihilation phase).
        div_factor: start = max_learning_rate / div_factor. Defaults to 25
            (cosine) or 10 (linear).
        final_div_factor: end = start / final_div_factor. Defaults to 1e5
            (cosine) or 1e3 (linear).
        name: Optional name of the schedule.

    Raises:
        ValueError: If an argument is out of range.

    Example:

    >>> schedule = OneCycleSchedule(max_learning_rate=0.1, total_steps=1000)
    >>> round(float(schedule(250)), 6)  # the peak, at pct_start
    0.1
    >>> model.compile(optimizer=keras.optimizers.SGD(schedule, momentum=0.9))

    Reference:
        L. N. Smith, "A disciplined approach to neural network
        hyper-parameters", arXiv:1803.09820; L. N. Smith and N. Topin,
        "Super-Convergence", arXiv:1708.07120.
    """

    # `__call__` and `momentum` also compute in NumPy (`xp=numpy`).
    supports_numpy = True

    def __init__(
        self,
        max_learning_rate,
        total_steps,
        shape="cosine",
        pct_start=None,
        div_factor=None,
        final_div_factor=None,
        name=None,
    ):
        super().__init__()
        self.max_learning_rate = check_number(
            "max_learning_rate", max_learning_rate, low=0, low_open=True
        )
        self.total_steps = check_positive_int("total_steps", total_steps)
        self.shape = check_choice("shape", shape, SHAPES)
        default_pct, default_div, default_final_div = _DEFAULTS[shape]
        self.pct_start = check_number(
            "pct_start",
            default_pct if pct_start is None else pct_start,
            low=0,
            high=1 if shape == "cosine" else 0.5,
            low_open=True,
            high_open=shape == "cosine",
        )
        self.div_factor = check_number(
            "div_factor",
            default_div if div_factor is None else div_factor,
            low=0,
            low_open=True,
        )
        self.final_div_factor = check_number(
            "final_div_factor",
            default_final_div if final_div_factor is None else final_div_factor,
            low=0,
            low_open=True,
        )
        self.name = name

    @property
    def initial_learning_rate(self):
        """The learning rate at step 0: `max_learning_rate / div_factor`."""
        return self.max_learning_rate / self.div_factor

    @property
    def final_learning_rate(self):
        """The learning rate from `total_steps` on."""
        return self.initial_learning_rate / self.final_div_factor

    def __call__(self, step, xp=ops):
        """The learning rate at `step` (`xp=numpy` computes it in NumPy)."""
        return one_cycle_curve(
            step,
            self.total_steps,
            self.pct_start,
            start=self.initial_learning_rate,
            peak=self.max_learning_rate,
            end=self.final_learning_rate,
            shape=self.shape,
            xp=xp,
        )

    def momentum(
        self, step, max_momentum=MAX_MOMENTUM, min_momentum=MIN_MOMENTUM, xp=ops
    ):
        """The momentum that goes with this schedule, inversely to the LR.

        It falls from `max_momentum` to `min_momentum` while the learning rate
        rises, climbs back while it falls, and stays at `max_momentum` in the
        linear form's last phase (Smith, arXiv:1803.09820, section 4.3).
        `xp=numpy` evaluates it in NumPy (for eager per-step use).
        """
        return one_cycle_curve(
            step,
            self.total_steps,
            self.pct_start,
            start=max_momentum,
            peak=min_momentum,
            end=max_momentum,
            shape=self.shape,
            xp=xp,
        )

    def momentum_schedule(self, max_momentum=MAX_MOMENTUM, min_momentum=MIN_MOMENTUM):
        """`momentum` with its range fixed: a function of the step alone."""
        return OneCycleMomentum(self, max_momentum, min_momentum)

    def get_config(self):
        return {
            "max_learning_rate": self.max_learning_rate,
            "total_steps": self.total_steps,
            "shape": self.shape,
            "pct_start": self.pct_start,
            "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor,
            "name": self.name,
        }


class OneCycleMomentum:
    """The momentum of a `OneCycleSchedule` at a step, for a fixed range.

    Args:
        schedule: The `OneCycleSchedule` it goes with.
        max_momentum: Momentum at the ends of the cycle.
        min_momentum: Momentum at the peak of the learning rate.
    """

    supports_numpy = True

    def __init__(self, schedule, max_momentum, min_momentum):
        self.schedule = schedule
        self.max_momentum = max_momentum
        self.min_momentum = min_momentum

    def __call__(self, step, xp=ops):
        return self.schedule.momentum(step, self.max_momentum, self.min_momentum, xp=xp)


def one_cycle_curve(step, total_steps, pct_start, *, start, peak, end, shape, xp=ops):
    """Evaluates a 1cycle curve (start -> peak -> end).

    See `OneCycleSchedule` for the formula. Works on tensors of any shape,
    with `keras.ops` (default) or `xp=numpy`.
    """
    step = ops.cast(step, "float32") if xp is ops else xp.asarray(step, "float32")
    p = xp.clip(step / float(total_steps), 0.0, 1.0)
    if shape == "cosine":
        rising = _cosine(start, peak, p / pct_start, xp)
        falling = _cosine(peak, end, (p - pct_start) / (1.0 - pct_start), xp)
        return xp.where(p < pct_start, rising, falling)
    rising = _linear(start, peak, p / pct_start, xp)
    falling = _linear(peak, start, (p - pct_start) / pct_start, xp)
    last_phase = max(1.0 - 2.0 * pct_start, 1e-12)
    annihilating = _linear(start, end, (p - 2.0 * pct_start) / last_phase, xp)
    return xp.where(
        p < pct_start,
        rising,
        xp.where(p < 2.0 * pct_start, falling, annihilating),
    )


# Both interpolations are written as convex combinations, exact at q = 0 and
# q = 1 in float32: `a + (b - a) * ...` would lose a tiny `b` (the final
# learning rate, ~1e-7 of the peak) to cancellation.
def _cosine(a, b, q, xp):
    # a + (b - a) * (1 - cos(pi q)) / 2, as a cos^2 + b sin^2 of (pi q / 2).
    half_angle = (math.pi / 2.0) * xp.clip(q, 0.0, 1.0)
    return a * xp.square(xp.cos(half_angle)) + b * xp.square(xp.sin(half_angle))


def _linear(a, b, q, xp):
    q = xp.clip(q, 0.0, 1.0)
    return a * (1.0 - q) + b * q
