"""Gradients of a model's loss on one batch, on every Keras backend.

Keras has no backend-neutral "gradient of this function" API, so this is the
one place that speaks each backend's autodiff: `tf.GradientTape`,
`jax.value_and_grad` and `torch.autograd.grad`. The forward pass runs in a
`keras.StatelessScope` in inference mode, so nothing of the model (batch-norm
statistics, metrics) changes.
"""

import keras
import numpy as np
from keras import ops


def loss_and_gradients(model, x, y):
    """The loss of `model` on `(x, y)` and its gradients, as NumPy.

    Args:
        model: A compiled Keras model.
        x: One batch of inputs.
        y: Its targets.

    Returns:
        `(loss, gradients)`: a float and one float64 array per
        `model.trainable_variables` (zeros where a variable is unused).
    """
    variables = model.trainable_variables
    # Under mixed_float16 the optimizer is a LossScaleOptimizer: the loss is
    # scaled as in the train step, so small float16 gradients do not flush to
    # zero, and the gradients are divided back.
    scale = float(ops.convert_to_numpy(model.optimizer.scale_loss(1.0)))

    def loss_of(mapping=None):
        with keras.StatelessScope(state_mapping=mapping):
            y_pred = model(x, training=False)
            loss = model.compute_loss(x=x, y=y, y_pred=y_pred, training=False)
            return ops.multiply(ops.cast(loss, "float32"), scale)

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_of()
        grads = tape.gradient(loss, [v.value for v in variables])
    elif backend == "jax":
        import jax

        def loss_from(values):
            return loss_of(list(zip(variables, values, strict=True)))

        loss, grads = jax.value_and_grad(loss_from)([v.value for v in variables])
    elif backend == "torch":
        import torch

        with torch.enable_grad():
            loss = loss_of()
            grads = torch.autograd.grad(
                loss, [v.value for v in variables], allow_unused=True
            )
    else:
        raise NotImplementedError(f"No gradient helper for backend {backend!r}.")
    arrays = [
        np.zeros(v.shape)
        if g is None
        else np.asarray(ops.convert_to_numpy(g), "float64") / scale
        for v, g in zip(variables, grads, strict=True)
    ]
    return float(ops.convert_to_numpy(loss)) / scale, arrays
