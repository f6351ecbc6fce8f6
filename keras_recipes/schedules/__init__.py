"""In-graph learning-rate schedules (`keras.optimizers.schedules` subclasses).

Exponential and piecewise-constant scheduling are Keras's own
`keras.optimizers.schedules.ExponentialDecay` and `PiecewiseConstantDecay`;
`piecewise_constant_by_epoch` adds boundaries given in epochs.
`build_schedule` builds any of them by name (those of `SCHEDULE_NAMES`
with a curve known before training), and
`evaluate` computes a schedule's values at given steps in NumPy.
"""

from keras_recipes.schedules.by_epoch import piecewise_constant_by_epoch
from keras_recipes.schedules.evaluate import evaluate
from keras_recipes.schedules.factory import (
    SCHEDULE_NAMES,
    ScheduleCurves,
    build_schedule,
    recipe_defaults,
)
from keras_recipes.schedules.one_cycle import (
    OneCycleMomentum,
    OneCycleSchedule,
    one_cycle_curve,
)
from keras_recipes.schedules.power_decay import PowerDecay
from keras_recipes.schedules.scaled import ScaledSchedule
from keras_recipes.schedules.warmup import LinearWarmup

__all__ = [
    "SCHEDULE_NAMES",
    "LinearWarmup",
    "OneCycleMomentum",
    "OneCycleSchedule",
    "PowerDecay",
    "ScaledSchedule",
    "ScheduleCurves",
    "build_schedule",
    "evaluate",
    "one_cycle_curve",
    "piecewise_constant_by_epoch",
    "recipe_defaults",
]
