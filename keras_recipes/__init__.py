"""keras_recipes: proven tricks for training deep networks, for Keras 3."""

__version__ = "0.1.0"

from keras_recipes import callbacks, lr_finder, models, schedules
from keras_recipes.callbacks import (
    SCHEDULE_NAMES,
    ActivationMonitor,
    BestCheckpoint,
    EarlyStopping,
    ExponentialScheduling,
    GradientMonitor,
    LRFinder,
    NaNGuard,
    OneCycle,
    OptimizerLogs,
    PerformanceScheduling,
    PiecewiseConstantScheduling,
    PowerScheduling,
    ResumableBackup,
    scheduling_callback,
)
from keras_recipes.lr_finder import LRFinderResult, find_learning_rate
from keras_recipes.models import build_cnn, build_mlp, initializer_for
from keras_recipes.schedules import (
    LinearWarmup,
    OneCycleSchedule,
    PowerDecay,
    ScaledSchedule,
)

__all__ = [
    "ActivationMonitor",
    "BestCheckpoint",
    "EarlyStopping",
    "ExponentialScheduling",
    "GradientMonitor",
    "LRFinder",
    "LRFinderResult",
    "LinearWarmup",
    "NaNGuard",
    "OneCycle",
    "OneCycleSchedule",
    "OptimizerLogs",
    "PerformanceScheduling",
    "PiecewiseConstantScheduling",
    "PowerDecay",
    "PowerScheduling",
    "ResumableBackup",
    "SCHEDULE_NAMES",
    "ScaledSchedule",
    "build_cnn",
    "build_mlp",
    "callbacks",
    "find_learning_rate",
    "initializer_for",
    "lr_finder",
    "models",
    "schedules",
    "scheduling_callback",
]
