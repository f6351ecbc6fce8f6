"""keras_recipes: proven tricks for training deep networks, for Keras 3."""

__version__ = "0.1.0"

from keras_recipes import callbacks, schedules
from keras_recipes.callbacks import (
    ExponentialScheduling,
    OneCycle,
    PerformanceScheduling,
    PiecewiseConstantScheduling,
    PowerScheduling,
)
from keras_recipes.schedules import (
    LinearWarmup,
    OneCycleSchedule,
    PowerDecay,
    ScaledSchedule,
)

__all__ = [
    "ExponentialScheduling",
    "LinearWarmup",
    "OneCycle",
    "OneCycleSchedule",
    "PerformanceScheduling",
    "PiecewiseConstantScheduling",
    "PowerDecay",
    "PowerScheduling",
    "ScaledSchedule",
    "callbacks",
    "schedules",
]
