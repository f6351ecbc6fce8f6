"""The learning rate of each step of an LR range test."""

import numpy as np
from keras import ops

MODES = ("exponential", "linear")


class Sweep:
    """The learning rate of step t of the sweep (in-graph and in NumPy).

    exponential: lr(t) = min * (max / min) ** (t / (num_steps - 1))
    linear:      lr(t) = min + (max - min) * t / (num_steps - 1)
    Steps past the end keep `max`.
    """

    supports_numpy = True  # `xp=numpy` computes in NumPy.

    def __init__(self, min_learning_rate, max_learning_rate, num_steps, mode):
        self.min_learning_rate = min_learning_rate
        self.max_learning_rate = max_learning_rate
        self.num_steps = num_steps
        self.mode = mode

    def __call__(self, step, xp=ops):
        fraction = xp.minimum(step / (self.num_steps - 1), 1.0)
        low, high = self.min_learning_rate, self.max_learning_rate
        if self.mode == "exponential":
            return low * xp.power(high / low, fraction)
        return low + (high - low) * fraction

    def values(self, first, stop):
        """Learning rates of steps `first` to `stop - 1`, as NumPy."""
        return self(np.arange(first, stop, dtype="float64"), xp=np)
