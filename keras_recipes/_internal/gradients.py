"""The monitors' computations on one batch: gradients of a model's loss
(`loss_and_gradients`) and a model's outputs (`outputs_of`), on every Keras
backend.

Keras has no backend-neutral "gradient of this function" API, so this is the
one place that speaks each backend's autodiff: `tf.GradientTape`,
`jax.value_and_grad` and `torch.autograd.grad`. The forward pass runs in a
`keras.StatelessScope` in inference mode, so nothing of the model (batch-norm
statistics, metrics) changes.

On TensorFlow and JAX the computation is compiled once per model and batch
shape (`tf.function`, `jax.jit`) and kept for the model's life: run eagerly
it dispatched every layer's ops one by one (timed by hand on a shared
machine, the 102-variable model of docs/benchmarks.md: 216 ms a check on
JAX and 71 ms on TensorFlow, against 6 and 8 ms compiled). The model's
variables are inputs of the JAX function (their current values at every
call) and captured by reference in TensorFlow's, so a compiled check never
reads stale weights or batch-norm statistics. PyTorch runs eagerly, as its
train step does. `outputs_of` (`ActivationMonitor`'s probe) is compiled the
same way.
"""

import weakref

import keras
import numpy as np
from keras import ops

# model -> the compiled function of `loss_and_gradients` for that model.
_COMPILED = weakref.WeakKeyDictionary()
# model -> the compiled function of `outputs_of` for that model.
_FORWARD = weakref.WeakKeyDictionary()


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
    # zero, and the gradients are divided back. The scale changes during
    # training: an input of the compiled function, not a constant of it.
    scale = float(ops.convert_to_numpy(model.optimizer.scale_loss(1.0)))
    structure, function = _COMPILED.get(model, (None, None))
    if structure != _structure(model):
        structure, function = _structure(model), _compile(model)
        _COMPILED[model] = structure, function
    loss, grads = function(x, y, np.float32(scale))
    arrays = [
        np.zeros(v.shape)
        if g is None
        else np.asarray(ops.convert_to_numpy(g), "float64") / scale
        for v, g in zip(variables, grads, strict=True)
    ]
    return float(ops.convert_to_numpy(loss)) / scale, arrays


def outputs_of(model, x):
    """`model(x, training=False)`, as a list of NumPy arrays (one an output).

    Compiled once per model (TensorFlow, JAX) and run on its current
    variables; nothing of the model changes.
    """
    structure, function = _FORWARD.get(model, (None, None))
    if structure != _structure(model):
        structure, function = _structure(model), _compile_forward(model)
        _FORWARD[model] = structure, function
    outputs = function(x)
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return [np.asarray(ops.convert_to_numpy(output)) for output in outputs]


def _compile_forward(model):
    model_ref = weakref.ref(model)  # Held weakly, as in `_compile`.
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(
            lambda x: model_ref()(x, training=False), reduce_retracing=True
        )
    if backend == "jax":
        import jax

        def forward(trainable, others, x):
            model = model_ref()
            mapping = list(zip(model.trainable_variables, trainable, strict=True))
            mapping += zip(model.non_trainable_variables, others, strict=True)
            with keras.StatelessScope(state_mapping=mapping):
                return model(x, training=False)

        compiled = jax.jit(forward)

        def jax_forward(x):
            model = model_ref()
            return compiled(
                [v.value for v in model.trainable_variables],
                [v.value for v in model.non_trainable_variables],
                x,
            )

        return jax_forward
    return lambda x: model_ref()(x, training=False)


def _structure(model):
    # A change of what is trainable (fine-tuning's stages) changes the
    # function's outputs: it is compiled again.
    return tuple(id(v) for v in model.trainable_variables), len(model.variables)


def _loss_of(model, x, y, scale, mapping=None):
    with keras.StatelessScope(state_mapping=mapping):
        y_pred = model(x, training=False)
        loss = model.compute_loss(x=x, y=y, y_pred=y_pred, training=False)
        return ops.multiply(ops.cast(loss, "float32"), scale)


def _compile(model):
    """`f(x, y, scale) -> (scaled loss, gradients)` for `model`."""
    # The functions hold the model weakly: they are kept in a dictionary
    # weak in its models.
    model_ref = weakref.ref(model)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function(reduce_retracing=True)
        def compiled(x, y, scale):
            model = model_ref()
            with tf.GradientTape() as tape:
                loss = _loss_of(model, x, y, scale)
            values = [v.value for v in model.trainable_variables]
            return loss, tape.gradient(loss, values)

        def tensorflow_step(x, y, scale):
            return compiled(x, y, tf.constant(scale, "float32"))

        return tensorflow_step
    if backend == "jax":
        import jax

        def loss_from(trainable, others, x, y, scale):
            model = model_ref()
            mapping = list(zip(model.trainable_variables, trainable, strict=True))
            mapping += zip(model.non_trainable_variables, others, strict=True)
            return _loss_of(model, x, y, scale, mapping)

        gradient = jax.jit(jax.value_and_grad(loss_from))

        def jax_step(x, y, scale):
            model = model_ref()
            return gradient(
                [v.value for v in model.trainable_variables],
                [v.value for v in model.non_trainable_variables],
                x,
                y,
                scale,
            )

        return jax_step
    if backend == "torch":
        import torch

        def torch_step(x, y, scale):
            model = model_ref()
            with torch.enable_grad():
                loss = _loss_of(model, x, y, float(scale))
                values = [v.value for v in model.trainable_variables]
                return loss, torch.autograd.grad(loss, values, allow_unused=True)

        return torch_step
    raise NotImplementedError(f"No gradient helper for backend {backend!r}.")
