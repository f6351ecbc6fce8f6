"""Which weight initializer goes with which activation."""

import keras

# The table. He keeps the variance of ReLU-like units (which zero half their
# input) from halving at every layer; LeCun is what SELU's self-normalization
# assumes; Glorot suits symmetric saturating units and linear outputs.
# (Glorot & Bengio 2010; He et al. 2015, arXiv:1502.01852; Klambauer et al.
# 2017, arXiv:1706.02515.)
INITIALIZERS = {
    "relu": "he_normal",
    "relu6": "he_normal",
    "leaky_relu": "he_normal",
    "prelu": "he_normal",
    "elu": "he_normal",
    "gelu": "he_normal",
    "silu": "he_normal",
    "swish": "he_normal",
    "mish": "he_normal",
    "selu": "lecun_normal",
    "tanh": "glorot_uniform",
    "sigmoid": "glorot_uniform",
    "softmax": "glorot_uniform",
    "linear": "glorot_uniform",
}

# The activations the builders take by name for hidden layers: PReLU is a
# layer with weights (no Keras activation function bears its name), and
# softmax and linear belong to outputs.
HIDDEN_ACTIVATIONS = tuple(
    name for name in INITIALIZERS if name not in ("prelu", "softmax", "linear")
)

# Activation layers that are not `keras.layers.Activation(name)`.
_LAYERS = {
    keras.layers.ReLU: "relu",
    keras.layers.LeakyReLU: "leaky_relu",
    keras.layers.PReLU: "prelu",
    keras.layers.ELU: "elu",
    keras.layers.Softmax: "softmax",
}


def activation_name(activation):
    """The table's name for `activation`: a name, a function or a layer.

    `None` is `"linear"`. Raises `ValueError` for an unknown activation.
    """
    if activation is None:
        return "linear"
    if isinstance(activation, keras.layers.Activation):
        return activation_name(activation.activation)
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
            f"Unknown activation {activation!r}: no initializer is paired with "
            f"it. Known activations: {known}. Pass `kernel_initializer` "
            "explicitly for others."
        )
    return name


def initializer_for(activation):
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
    return INITIALIZERS[activation_name(activation)]
