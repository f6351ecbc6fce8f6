"""Pure NumPy helpers on training curves, shared by the verdict and the plots."""

import numpy as np


def moving_average(values, window=3):
    """Trailing moving average (the first points average what exists)."""
    values = np.asarray(values, dtype="float64")
    return np.array(
        [values[max(0, i - window + 1) : i + 1].mean() for i in range(len(values))]
    )
