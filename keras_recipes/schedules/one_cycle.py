"""The 1cycle policy: one rise and one long fall of the learning rate."""

import math

import keras
from keras import ops

from keras_recipes._internal.names import (
    MAX_MOMENTUM,
    MIN_MOMENTUM,
    ONE_CYCLE_SHAPES,
)
from keras_recipes._internal.validation import (
    check_choice,
    check_number,
    check_positive_int,
)

SHAPES = ONE_CYCLE_SHAPES


# Defaults per shape: (pct_start, div_factor, final_div_factor).
_DEFAULTS = {
    # PyTorch's `OneCycleLR`: start = max / 25, final = start / 1e4.
    "cosine": (0.3, 25.0, 1e4),
    # Smith's three phases (Géron's `OneCycleScheduler`): start = max / 10,
    # back to the start at 90 % of the steps, then down to start / 1000.
    "linear": (0.45, 10.0, 1e3),
}


@keras.saving.register_keras_serializable(package="keras_recipes")
class OneCycleSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Smith's 1cycle learning-rate policy, in its cosine or three-phase form.

    Step for step the curve of PyTorch's `OneCycleLR` (tested against torch):
    with start = max / div_factor, end = start / final_div_factor, T =
    `total_steps` and the peak at step P = pct_start * T - 1,

    * `shape="cosine"` (default): cosine annealing from start up to max over
      steps 0..P, then from max down to end over steps P..T-1:
      lr = a + (b - a) * (1 - cos(pi * q)) / 2, q the progress in the phase.
    * `shape="linear"`: three linear phases, start -> max over 0..P, max ->
      start over P..2P, then start -> end over 2P..T-1 (PyTorch's
      `three_phase=True`).

    The last step of the cycle applies `end`. The cosine defaults are
    PyTorch's (`pct_start=0.3`, `div_factor=25`, `final_div_factor=1e4`),
    so LRs found for it transfer. fastai's `fit_one_cycle(lr_max, div,
    div_final, pct_start)` is `OneCycleSchedule(lr_max, T, div_factor=div,
    final_div_factor=div_final / div, pct_start=pct_start)` (fastai divides
    the peak by `div_final`; defaults 25, 1e5, 0.25), and fastai places the
    phases at step / T, one step later than PyTorch. The cosine's smooth
    turns avoid the kink at the peak and it spends more of the run near the
    maximum, where 1cycle gets its speed-up; the linear form reproduces
    Smith (2018) and Géron's `OneCycleScheduler`.

    Steps past `total_steps` keep the final learning rate.

    Args:
        max_learning_rate: The peak learning rate. Must be > 0.
        total_steps: Steps in the whole cycle. Must be >= 1.
        shape: `"cosine"` or `"linear"`.
        pct_start: Fraction of the steps spent rising (PyTorch's and
            fastai's `pct_start`). Defaults to 0.3 (cosine) or 0.45 (linear,
            which leaves the last 10 % for the final annihilation phase).
        div_factor: start = max_learning_rate / div_factor. Defaults to 25
            (cosine) or 10 (linear).
        final_div_factor: end = start / final_div_factor (PyTorch's
            meaning). Defaults to 1e4 (cosine) or 1e3 (linear).
        name: Optional name of the schedule.

    Raises:
        ValueError: If an argument is out of range.

    Example:

    >>> schedule = OneCycleSchedule(max_learning_rate=0.1, total_steps=1000)
    >>> round(float(schedule(299)), 6)  # the peak, at pct_start * 1000 - 1
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
        """The learning rate of step `total_steps - 1` and after."""
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
    # PyTorch's phase ends: the peak at step pct_start * T - 1, the end at
    # step T - 1 (the last step of the cycle applies it).
    peak_step = pct_start * total_steps - 1.0
    last_step = float(total_steps - 1)
    rising = _progress(step, 0.0, peak_step, xp)
    if shape == "cosine":
        falling = _progress(step, peak_step, last_step, xp)
        return xp.where(
            step <= peak_step,
            _cosine(start, peak, rising, xp),
            _cosine(peak, end, falling, xp),
        )
    back_step = 2.0 * pct_start * total_steps - 2.0
    falling = _progress(step, peak_step, back_step, xp)
    annihilating = _progress(step, back_step, last_step, xp)
    return xp.where(
        step <= peak_step,
        _linear(start, peak, rising, xp),
        xp.where(
            step <= back_step,
            _linear(peak, start, falling, xp),
            _linear(start, end, annihilating, xp),
        ),
    )


def _progress(step, first, last, xp):
    """The progress in [0, 1] of `step` through the phase `first` to `last`
    (a phase of no length is over at once)."""
    if last <= first:
        return xp.ones_like(step)
    # Exactly 1 from `last` on: float32 rounding of a fractional `first`
    # would leave the cosine/linear a hair short of the phase's end value.
    progress = xp.clip((step - first) / (last - first), 0.0, 1.0)
    return xp.where(step >= last, 1.0, progress)


# Both interpolations are written as convex combinations, exact at q = 0 and
# q = 1 in float32: `a + (b - a) * ...` would lose a tiny `b` (the final
# learning rate, ~1e-7 of the peak) to cancellation.
def _cosine(a, b, q, xp):
    # a + (b - a) * (1 - cos(pi q)) / 2, as a cos^2 + b sin^2 of (pi q / 2).
    half_angle = (math.pi / 2.0) * q
    return a * xp.square(xp.cos(half_angle)) + b * xp.square(xp.sin(half_angle))


def _linear(a, b, q, xp):
    return a * (1.0 - q) + b * q
