"""Which weight initializer goes with which activation."""

import keras

# The table (and the hidden activations) is defined with the command line's
# other names, so that `--help` lists the activations without Keras.
from keras_recipes._internal.names import (  # noqa: F401 (re-exported)
    HIDDEN_ACTIVATIONS,
    INITIALIZERS,
)

# Activation layers that are not `keras.layers.Activation(name)`.
_LAYERS = {
    keras.layers.ReLU: "relu",
    keras.layers.LeakyReLU: "leaky_relu",
    keras.layers.PReLU: "prelu",
    keras.layers.ELU: "elu",
    keras.layers.Softmax: "softmax",
}


def activation_name(activation, argument="activation"):
    """The table's name for `activation`: a name, a function or a layer.

    `None` is `"linear"`. Raises `ValueError` for an unknown activation (the
    message names `argument`, the caller's name for it).
    """
    if activation is None:
        return "linear"
    if isinstance(activation, keras.layers.Activation):
        return activation_name(activation.activation, argument)
    for layer_class, name in _LAYERS.items():
        if isinstance(activation, layer_class):
            return name
    if isinstance(activation, str):
        name = activation.lower()
    elif callable(activation):
        name = keras.activations.serialize(activation)
        name = name if isinstance(name, str) else getattr(activation, "__name__", "")
    else:
        name = ""
    if name not in INITIALIZERS:
        known = ", ".join(sorted(INITIALIZERS))
        raise ValueError(
            f"`{argument}` is an unknown activation: no initializer is paired "
            f"with it. Known activations: {known}. Pass `kernel_initializer` "
            f"explicitly for others. Received: {argument}={activation!r}"
        )
    return name


def initializer_for(activation, argument="activation"):
    """The kernel initializer paired with `activation`, as a Keras name.

    He normal for the ReLU family (relu, leaky_relu, prelu, elu, gelu,
    silu/swish, mish), LeCun normal for selu, Glorot uniform for tanh,
    sigmoid, softmax and linear.

    Args:
        activation: A name (`"relu"`), a Keras activation function
            (`keras.activations.gelu`), an activation layer
            (`keras.layers.LeakyReLU()`), or `None` (linear).

    Returns:
        The initializer's name, e.g. `"he_normal"`.

    Raises:
        ValueError: For an activation not in the table (the message lists
            the known ones).

    Example:

    >>> initializer_for("selu")
    'lecun_normal'
    >>> initializer_for(keras.layers.LeakyReLU())
    'he_normal'
    """
    return INITIALIZERS[activation_name(activation, argument)]
