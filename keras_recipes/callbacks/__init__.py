"""Callbacks for `model.fit(callbacks=[...])`."""

from keras_recipes.callbacks.exponential_scheduling import ExponentialScheduling
from keras_recipes.callbacks.lr_finder import LRFinder
from keras_recipes.callbacks.one_cycle import OneCycle
from keras_recipes.callbacks.performance_scheduling import PerformanceScheduling
from keras_recipes.callbacks.piecewise_constant_scheduling import (
    PiecewiseConstantScheduling,
)
from keras_recipes.callbacks.power_scheduling import PowerScheduling

__all__ = [
    "ExponentialScheduling",
    "LRFinder",
    "OneCycle",
    "PerformanceScheduling",
    "PiecewiseConstantScheduling",
    "PowerScheduling",
]
