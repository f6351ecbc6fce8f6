"""Callbacks for `model.fit(callbacks=[...])`."""

from keras_recipes.callbacks.activation_monitor import ActivationMonitor
from keras_recipes.callbacks.best_checkpoint import BestCheckpoint
from keras_recipes.callbacks.by_name import SCHEDULE_NAMES, scheduling_callback
from keras_recipes.callbacks.early_stopping import EarlyStopping
from keras_recipes.callbacks.exponential_scheduling import ExponentialScheduling
from keras_recipes.callbacks.gradient_monitor import GradientMonitor
from keras_recipes.callbacks.lr_finder import LRFinder
from keras_recipes.callbacks.nan_guard import NaNGuard
from keras_recipes.callbacks.one_cycle import OneCycle
from keras_recipes.callbacks.performance_scheduling import PerformanceScheduling
from keras_recipes.callbacks.piecewise_constant_scheduling import (
    PiecewiseConstantScheduling,
)
from keras_recipes.callbacks.power_scheduling import PowerScheduling
from keras_recipes.callbacks.resumable_backup import ResumableBackup

__all__ = [
    "ActivationMonitor",
    "BestCheckpoint",
    "EarlyStopping",
    "ExponentialScheduling",
    "GradientMonitor",
    "LRFinder",
    "NaNGuard",
    "OneCycle",
    "PerformanceScheduling",
    "PiecewiseConstantScheduling",
    "PowerScheduling",
    "ResumableBackup",
    "SCHEDULE_NAMES",
    "scheduling_callback",
]
