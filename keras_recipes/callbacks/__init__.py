"""Callbacks for `model.fit(callbacks=[...])`.

`LRFinder` lives with its algorithm in `keras_recipes.lr_finder` and is
re-exported here.
"""

from keras_recipes.callbacks._manifest import (
    best_checkpoint_path,
    read_manifest,
    verify_checkpoint,
)
from keras_recipes.callbacks.activation_monitor import ActivationMonitor
from keras_recipes.callbacks.best_checkpoint import BestCheckpoint
from keras_recipes.callbacks.by_name import scheduling_callback
from keras_recipes.callbacks.early_stopping import EarlyStopping
from keras_recipes.callbacks.exponential_scheduling import ExponentialScheduling
from keras_recipes.callbacks.gradient_monitor import GradientMonitor
from keras_recipes.callbacks.nan_guard import NaNGuard
from keras_recipes.callbacks.one_cycle import OneCycle
from keras_recipes.callbacks.optimizer_logs import OptimizerLogs
from keras_recipes.callbacks.performance_scheduling import PerformanceScheduling
from keras_recipes.callbacks.piecewise_constant_scheduling import (
    PiecewiseConstantScheduling,
)
from keras_recipes.callbacks.power_scheduling import PowerScheduling
from keras_recipes.callbacks.resumable_backup import ResumableBackup
from keras_recipes.lr_finder.callback import LRFinder
from keras_recipes.schedules.factory import SCHEDULE_NAMES

__all__ = [
    "ActivationMonitor",
    "BestCheckpoint",
    "EarlyStopping",
    "ExponentialScheduling",
    "GradientMonitor",
    "LRFinder",
    "NaNGuard",
    "OneCycle",
    "OptimizerLogs",
    "PerformanceScheduling",
    "PiecewiseConstantScheduling",
    "PowerScheduling",
    "ResumableBackup",
    "SCHEDULE_NAMES",
    "best_checkpoint_path",
    "read_manifest",
    "verify_checkpoint",
    "scheduling_callback",
]
