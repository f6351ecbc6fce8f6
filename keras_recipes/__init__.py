"""keras_recipes: proven tricks for training deep networks, for Keras 3."""

__version__ = "0.1.0"

from keras_recipes import callbacks, schedules
from keras_recipes.callbacks import (
    BestCheckpoint,
    EarlyStopping,
    ExponentialScheduling,
    LRFinder,
    OneCycle,
    PerformanceScheduling,
    PiecewiseConstantScheduling,
    PowerScheduling,
    ResumableBackup,
)
from keras_recipes.lr_finder.find import find_learning_rate
from keras_recipes.lr_finder.result import LRFinderResult
from keras_recipes.schedules import (
    LinearWarmup,
    OneCycleSchedule,
    PowerDecay,
    ScaledSchedule,
)

__all__ = [
    "BestCheckpoint",
    "EarlyStopping",
    "ExponentialScheduling",
    "LRFinder",
    "LRFinderResult",
    "LinearWarmup",
    "OneCycle",
    "OneCycleSchedule",
    "PerformanceScheduling",
    "PiecewiseConstantScheduling",
    "PowerDecay",
    "PowerScheduling",
    "ResumableBackup",
    "ScaledSchedule",
    "callbacks",
    "find_learning_rate",
    "schedules",
]
