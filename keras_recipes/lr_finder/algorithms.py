"""The LR range test's algorithms, as pure NumPy functions.

Smoothing, the divergence rule and the four suggestion methods of fastai's
`lr_find` (valley, slide, minimum / 10, steep). Lightning's single suggestion
is not among them: it takes the steepest slope against the *linear* learning
rate (`np.gradient(loss, lr)`), which on an exponential sweep picks a rate
near the end of the descent that, on our curves, does not train; `steep` is
fastai's, against log(lr). Each suggestion function takes the learning rates
and the smoothed losses of a clean curve (see `clean_curve`) and returns a
learning rate.
"""

import math

import numpy as np

from keras_recipes._internal.validation import check_number


def smooth(losses, beta=0.98):
    """Exponential moving average with bias correction (fastai's `AvgSmoothLoss`).

    s_t = (beta * a_{t-1} + (1 - beta) * x_t) / (1 - beta ** (t + 1)), where
    a is the uncorrected average (a_{-1} = 0). A non-finite loss makes every
    later value NaN: nothing after it is trusted.

    Args:
        losses: 1-D sequence of losses.
        beta: Smoothing factor in [0, 1); 0 returns the losses unchanged.

    Returns:
        A float64 array of the same length.
    """
    beta = check_number("beta", beta, low=0, high=1, high_open=True)
    losses = np.asarray(losses, dtype="float64")
    smoothed = np.empty_like(losses)
    average = 0.0
    poisoned = False
    for t, loss in enumerate(losses):
        poisoned = poisoned or not math.isfinite(loss)
        if poisoned:
            smoothed[t] = math.nan
            continue
        average = beta * average + (1 - beta) * loss
        smoothed[t] = average / (1 - beta ** (t + 1))
    return smoothed


def divergence_index(smoothed, threshold=4.0):
    """First index where the smoothed loss is non-finite or exceeds
    `threshold` times the best (lowest) value before it; `None` if none.

    `threshold=None` checks only for non-finite values.
    """
    best = math.inf
    for t, value in enumerate(np.asarray(smoothed, dtype="float64")):
        if not math.isfinite(value):
            return t
        if threshold is not None and t > 0 and value > threshold * best:
            return t
        best = min(best, value)
    return None


class DivergenceWatch:
    """`smooth` and `divergence_index` one loss at a time, as a sweep runs.

    `add(loss)` is O(1) (the functions above take the whole curve: a check
    per step with them costs O(steps ** 2) over a sweep) and says whether
    the smoothed curve has diverged at this loss, as `divergence_index`
    would at its index. The sweep stops at the first `True`.
    """

    def __init__(self, beta=0.98, threshold=4.0):
        self.beta = check_number("beta", beta, low=0, high=1, high_open=True)
        self.threshold = threshold
        self.smoothed = math.nan
        self._average, self._count, self._best = 0.0, 0, math.inf

    def add(self, loss):
        """Takes the next loss; `True` if the curve diverged here."""
        self._count += 1
        if not math.isfinite(loss):
            self.smoothed = math.nan
            return True
        self._average = self.beta * self._average + (1 - self.beta) * loss
        self.smoothed = self._average / (1 - self.beta**self._count)
        if not math.isfinite(self.smoothed):
            return True
        diverged = (
            self.threshold is not None
            and self._count > 1
            and self.smoothed > self.threshold * self._best
        )
        self._best = min(self._best, self.smoothed)
        return diverged


def clean_curve(learning_rates, smoothed, skip_start=None, skip_end=5):
    """The part of the curve the suggestions use.

    Stops before the first non-finite value, then drops the first
    `skip_start` points (default: a tenth of the finite points, where the
    average is still settling) and the last `skip_end` (where the loss shoots
    up), unless that would leave fewer than 3 points.

    fastai's `lr_find` keeps `losses[num_it // 10 : -5]`, and this differs
    twice, on purpose: it skips a tenth of the points recorded, not of the
    steps planned (a sweep that diverged after 30 of 100 steps would lose a
    third of its curve to fastai's fixed 10), and it cuts the non-finite
    tail first and then `skip_end` more (fastai's 5 include the NaN point
    that ended the sweep, so we drop one finite point more; no suggestion
    can use a NaN).

    Returns:
        `(learning_rates, smoothed)` as float64 arrays.
    """
    lrs = np.asarray(learning_rates, dtype="float64")
    losses = np.asarray(smoothed, dtype="float64")
    finite = np.isfinite(losses)
    end = len(losses) if finite.all() else int(np.argmin(finite))
    if skip_start is None:
        skip_start = end // 10
    stop = end - skip_end
    if stop - skip_start < 3:
        stop = end
    return lrs[skip_start:stop], losses[skip_start:stop]


def suggest_valley(learning_rates, losses, min_drop=0.05):
    """The middle of the longest decreasing stretch of the descent.

    fastai's default (`valley`): finds the longest strictly decreasing
    subsequence of the losses and returns the learning rate half-way into it
    (index = start + n/3 + n/6 of the stretch), with one change: the search
    starts where the loss has fallen by `min_drop` of its total drop
    (first loss - lowest loss). Before that the curve is a plateau, where a
    noise-free loss decreases by negligible amounts at every step and
    fastai's valley then starts at the very first point and lands orders of
    magnitude too low (docs/benchmarks.md: 14-835x below the largest stable
    rate of convex quadratics, 5-7x with `min_drop=0.05`). `min_drop=0` is
    fastai's valley exactly. Where the plateau's noise is larger than
    `min_drop` of the drop, the search starts on the plateau, as fastai's.
    """
    lrs = np.asarray(learning_rates, dtype="float64")
    losses = np.asarray(losses, dtype="float64")
    _check_length(len(losses), 2, "valley")
    min_drop = check_number("min_drop", min_drop, low=0, high=1, high_open=True)
    start = 0
    if min_drop > 0:
        threshold = losses[0] - min_drop * (losses[0] - losses.min())
        below = losses < threshold
        start = int(np.argmax(below)) if below.any() else 0
    return float(lrs[start + _fastai_valley_index(losses[start:])])


def _fastai_valley_index(losses):
    n = len(losses)
    if n < 2:
        return 0
    lengths = np.ones(n, dtype=int)
    for i in range(1, n):
        longer = losses[:i] > losses[i]
        if longer.any():
            lengths[i] = lengths[:i][longer].max() + 1
    end = int(np.argmax(lengths))
    start = end - int(lengths[end])
    section = (end - start) / 3
    return max(0, start + int(section) + int(section / 2))


def suggest_steep(learning_rates, losses):
    """The learning rate where the loss falls fastest against log(lr)
    (fastai's `steep`)."""
    lrs = np.asarray(learning_rates, dtype="float64")
    losses = np.asarray(losses, dtype="float64")
    _check_length(len(losses), 2, "steep")
    slopes = np.diff(losses) / np.diff(np.log(lrs))
    return float(lrs[int(np.argmin(slopes))])


def suggest_minimum(learning_rates, losses):
    """A tenth of the learning rate at the lowest loss (fastai `minimum`)."""
    _check_length(len(losses), 2, "minimum")
    return float(np.asarray(learning_rates)[int(np.argmin(losses))]) / 10.0


def suggest_slide(learning_rates, losses, lr_diff=15, threshold=0.005):
    """fastai's interval slide rule.

    Walks an interval of `lr_diff` points down from the end of the curve
    until the loss gradients at its two ends differ by at most `threshold`,
    and returns the learning rate at its left end.
    """
    lrs = np.asarray(learning_rates, dtype="float64")
    losses = np.asarray(losses, dtype="float64")
    n = len(losses)
    _check_length(n, 2, "slide")
    lr_diff = min(lr_diff, n - 1)
    gradient = np.gradient(losses)
    right, left = n - 1, n - 1 - lr_diff
    suggestion = lrs[left]
    while left >= 0 and abs(gradient[right] - gradient[left]) > threshold:
        suggestion = lrs[left]
        right -= 1
        left -= 1
    return float(suggestion)


SUGGESTERS = {
    "valley": suggest_valley,
    "steep": suggest_steep,
    "minimum": suggest_minimum,
    "slide": suggest_slide,
}


def suggest_all(learning_rates, smoothed):
    """Every suggestion by name, computed on `clean_curve(...)`.

    A method that has too few points gets `None`, and so does one that
    lands on a rate that is not positive and finite (a learning rate of 0
    trains nothing).
    """
    lrs, losses = clean_curve(learning_rates, smoothed)
    suggestions = {}
    for name, suggester in SUGGESTERS.items():
        try:
            value = suggester(lrs, losses)
        except _TooShort:
            value = None
        if value is not None and not (math.isfinite(value) and value > 0):
            value = None
        suggestions[name] = value
    return suggestions


class _TooShort(ValueError):
    pass


def _check_length(n, minimum, method):
    if n < minimum:
        raise _TooShort(
            f"The '{method}' suggestion needs at least {minimum} points of a "
            f"finite loss curve; it has {n}."
        )
