"""In-graph learning-rate schedules (`keras.optimizers.schedules` subclasses).

Exponential and piecewise-constant scheduling are Keras's own
`keras.optimizers.schedules.ExponentialDecay` and `PiecewiseConstantDecay`;
`piecewise_constant_by_epoch` adds boundaries given in epochs.
"""

from keras_recipes.schedules.by_epoch import piecewise_constant_by_epoch
from keras_recipes.schedules.one_cycle import OneCycleSchedule, one_cycle_curve
from keras_recipes.schedules.power_decay import PowerDecay
from keras_recipes.schedules.scaled import ScaledSchedule
from keras_recipes.schedules.warmup import LinearWarmup

__all__ = [
    "LinearWarmup",
    "OneCycleSchedule",
    "PowerDecay",
    "ScaledSchedule",
    "one_cycle_curve",
    "piecewise_constant_by_epoch",
]
