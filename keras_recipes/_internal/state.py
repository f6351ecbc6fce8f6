"""Host copies of a model's variables and its optimizer's, to put back later.

What `LRFinder` restores after its sweep and `NaNGuard` after a non-finite
loss: the weights alone are not enough, since the optimizer's slots (momenta,
moving averages) and step count go with them.
"""

import keras
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
    """NumPy copies of `variables` (Keras variables or tensors)."""
    return [host_copy(v) for v in variables]


def host_copy(value):
    """A NumPy copy of a Keras variable or a tensor, that later steps leave alone.

    A variable is read with its `numpy()`: on TensorFlow `ops.convert_to_numpy`
    of a variable costs ~10x more (3.1 ms against 0.3 ms for the 1.3M weights
    of docs/benchmarks.md's model). The copy is kept apart from the
    variable's buffer, which JAX donates to the next train step.
    """
    if isinstance(value, keras.Variable):
        return np.array(value.numpy(), copy=True)
    return np.array(ops.convert_to_numpy(value), copy=True)


def restore(variables, values):
    """Assigns a `snapshot` back to the same variables."""
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value)
