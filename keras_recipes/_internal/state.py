"""Host copies of a model's variables and its optimizer's, to put back later.

What `LRFinder` restores after its sweep and `NaNGuard` after a non-finite
loss: the weights alone are not enough, since the optimizer's slots (momenta,
moving averages) and step count go with them.
"""

import numpy as np
from keras import ops


def training_variables(model):
    """The model's variables, then its optimizer's (building its slots first,
    so that their initial values are part of a snapshot taken before step 1)."""
    optimizer = model.optimizer
    if model.built and not optimizer.built:
        optimizer.build(model.trainable_variables)
    return list(model.variables) + list(optimizer.variables)


def snapshot(variables):
    """NumPy copies of `variables`."""
    return [np.array(ops.convert_to_numpy(v), copy=True) for v in variables]


def restore(variables, values):
    """Assigns a `snapshot` back to the same variables."""
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value)
