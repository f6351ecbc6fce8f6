"""Pure NumPy helpers on training curves, shared by the verdict and the plots."""

import numpy as np


def moving_average(values, window=3):
    """Trailing moving average (the first points average what exists)."""
    values = np.asarray(values, dtype="float64")
    return np.array(
        [values[max(0, i - window + 1) : i + 1].mean() for i in range(len(values))]
    )


def centered_moving_average(values, window=3):
    """Centred moving average; NaN where the window does not fit (the ends).

    For plots: a trailing average lags the curve by (window - 1) / 2 epochs,
    and its first points average less than a window (on a 6-epoch run the
    trailing average of a falling loss sits far above it).
    """
    values = np.asarray(values, dtype="float64")
    result = np.full(len(values), np.nan)
    half = window // 2
    for i in range(half, len(values) - (window - 1 - half)):
        result[i] = values[i - half : i - half + window].mean()
    return result
