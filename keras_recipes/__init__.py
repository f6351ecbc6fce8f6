"""keras_recipes: proven tricks for training deep networks, for Keras 3.

The public names below are imported on first use (PEP 562), so that
`import keras_recipes`, `keras-recipes --help` and `--version` do not import
Keras (about 7 s with the TensorFlow backend). `kr.OneCycle` imports
`keras_recipes.callbacks` the first time it is read.
"""

import importlib

__version__ = "0.1.0"

# Public name -> the package that defines it.
_EXPORTS = {
    **dict.fromkeys(
        (
            "SCHEDULE_NAMES",
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
            "scheduling_callback",
        ),
        "keras_recipes.callbacks",
    ),
    **dict.fromkeys(
        ("LRFinderResult", "find_learning_rate"), "keras_recipes.lr_finder"
    ),
    **dict.fromkeys(
        (
            "build_cnn",
            "build_mlp",
            "initializer_for",
            "mc_dropout_predict",
            "tta_predict",
        ),  # fmt: skip
        "keras_recipes.models",
    ),
    **dict.fromkeys(
        ("LinearWarmup", "OneCycleSchedule", "PowerDecay", "ScaledSchedule"),
        "keras_recipes.schedules",
    ),
    "ShuffledBatches": "keras_recipes.batches",
    "DiscriminativeOptimizer": "keras_recipes.optimizers",
}
_SUBPACKAGES = ("callbacks", "lr_finder", "models", "schedules")

__all__ = sorted([*_EXPORTS, *_SUBPACKAGES])


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"keras_recipes.{name}")
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # Later reads do not come here again.
        return value
    raise AttributeError(f"module 'keras_recipes' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *__all__})
