"""Model builders whose kernel initializers follow the activation."""

import random

import keras

from keras_recipes._internal.validation import (
    check_bool,
    check_int,
    check_int_sequence,
    check_number,
)
from keras_recipes.models.augment import augmentation_layers
from keras_recipes.models.pairing import initializer_for

# The widest layer a builder makes (units, filters): a width beyond is a typo
# that would exhaust the memory, not a model.
MAX_WIDTH = 1_000_000


def build_mlp(
    input_shape,
    num_outputs,
    *,
    hidden_layers=2,
    units=128,
    activation="relu",
    batch_norm=False,
    dropout=0.0,
    l1=0.0,
    l2=0.0,
    max_norm=None,
    kernel_initializer="auto",
    output_activation="softmax",
    name="mlp",
):
    """A multilayer perceptron with the initializer paired to the activation.

    Each hidden layer is Dense -> [BatchNormalization] -> activation ->
    [Dropout]. With `kernel_initializer="auto"` the hidden kernels get
    `initializer_for(activation)` (He for the ReLU family, LeCun for SELU,
    Glorot for tanh / sigmoid) and the output kernel
    `initializer_for(output_activation)`.

    With `activation="selu"` the network is self-normalizing (Klambauer et
    al., arXiv:1706.02515) when its inputs are **standardized** (mean 0,
    std 1 per feature): LeCun normal kernels, and `AlphaDropout` instead of
    `Dropout` (plain dropout breaks the fixed point). Batch normalization is
    refused with SELU: it is what SELU replaces, and it breaks the property.

    Args:
        input_shape: Shape of one sample (more than one axis is flattened).
        num_outputs: Units of the output layer.
        hidden_layers: Number of hidden layers (>= 0).
        units: Units per hidden layer: an int, or a list of one per layer.
        activation: Hidden activation: a name, a Keras activation function,
            or an activation layer (copied for each layer).
        batch_norm: Batch normalization before each hidden activation.
        dropout: Dropout rate after each hidden layer, in [0, 1).
        l1: L1 penalty on the hidden kernels.
        l2: L2 penalty on the hidden kernels.
        max_norm: Max-norm constraint on the hidden kernels (`None`: none).
        kernel_initializer: `"auto"` (the pairing), or any Keras initializer
            for the hidden kernels.
        output_activation: Activation of the output layer (`None`: linear).
        name: Name of the model.

    Returns:
        An uncompiled `keras.Sequential` model.

    Raises:
        ValueError: On a bad argument, an activation with no known pairing
            (with `"auto"`), or `batch_norm=True` with SELU.

    Example:

    >>> model = build_mlp((64,), 10, hidden_layers=3, units=256, activation="selu")
    >>> model.compile("nadam", "sparse_categorical_crossentropy")
    """
    num_outputs = check_int("num_outputs", num_outputs, low=1, high=MAX_WIDTH)
    hidden_layers = check_int("hidden_layers", hidden_layers, low=0, high=1000)
    input_shape = check_int_sequence("input_shape", input_shape)
    widths = _widths(units, hidden_layers)
    head = [keras.Input(input_shape)]
    if len(input_shape) > 1:
        head.append(keras.layers.Flatten())
    layers = _hidden_stack(
        lambda width, **kw: keras.layers.Dense(width, **kw),
        widths, activation, batch_norm, dropout, l1, l2, max_norm,
        kernel_initializer,
    )  # fmt: skip
    return keras.Sequential(
        head + layers + [_output(num_outputs, output_activation)], name=name
    )


def build_cnn(
    input_shape,
    num_outputs,
    *,
    filters=(32, 64),
    kernel_size=3,
    dense_units=128,
    activation="relu",
    batch_norm=True,
    dropout=0.25,
    l2=0.0,
    kernel_initializer="auto",
    output_activation="softmax",
    augment=False,
    name="cnn",
):
    """A small convolutional network for images, initializers paired.

    One block per entry of `filters`: two `Conv2D` (same padding) with
    [BatchNormalization] and the activation, then 2x2 max pooling; then
    Flatten -> Dense(dense_units) -> [Dropout] -> output. Kernel initializers
    follow the activation as in `build_mlp`.

    Args:
        input_shape: `(height, width, channels)`, or `(height, width)` for
            one channel.
        num_outputs: Units of the output layer.
        filters: Filters of each block; each block halves the image size.
        kernel_size: Size of the convolution kernels.
        dense_units: Units of the dense layer before the output (0: none).
        activation: Hidden activation (see `build_mlp`).
        batch_norm: Batch normalization after each convolution.
        dropout: Dropout rate before the output, in [0, 1).
        l2: L2 penalty on the kernels.
        kernel_initializer: `"auto"` or a Keras initializer.
        output_activation: Activation of the output layer.
        augment: Random shifts, rotations, zooms (and flips) at the input,
            in training only (`keras_recipes.models.augment`): `True` for the
            defaults, or a dict of amounts; `False` for none.
        name: Name of the model.

    Returns:
        An uncompiled `keras.Sequential` model.

    Raises:
        ValueError: On a bad argument, or `batch_norm=True` with SELU.

    Example:

    >>> model = build_cnn((8, 8, 1), 10, filters=(32, 64), augment=True)
    """
    input_shape = check_int_sequence("input_shape", input_shape)
    if len(input_shape) not in (2, 3):
        raise ValueError(
            "`input_shape` must be (height, width) or (height, width, channels)."
            f" Received: input_shape={input_shape}"
        )
    filters = check_int_sequence("filters", filters, high=MAX_WIDTH)
    kernel_size = check_int(
        "kernel_size", kernel_size, low=1, high=max(input_shape[:2])
    )
    dense_units = check_int(
        "dense_units", dense_units, low=0, high=MAX_WIDTH, allow_none=True
    )
    num_outputs = check_int("num_outputs", num_outputs, low=1, high=MAX_WIDTH)
    head = [keras.Input(input_shape)]
    if len(input_shape) == 2:
        head.append(keras.layers.Reshape(input_shape + (1,)))
    if augment is not False:
        head += augmentation_layers(augment)
    layers = []
    for block_filters in filters:
        layers += _hidden_stack(
            lambda width, **kw: keras.layers.Conv2D(
                width, kernel_size, padding="same", **kw
            ),
            [block_filters, block_filters], activation, batch_norm, 0.0, 0.0, l2,
            None, kernel_initializer,
        )  # fmt: skip
        layers.append(keras.layers.MaxPooling2D(2))
    layers.append(keras.layers.Flatten())
    if dense_units:
        layers += _hidden_stack(
            lambda width, **kw: keras.layers.Dense(width, **kw),
            [dense_units], activation, False, dropout, 0.0, l2, None,
            kernel_initializer,
        )  # fmt: skip
    return keras.Sequential(
        head + layers + [_output(num_outputs, output_activation)], name=name
    )


def _hidden_stack(
    make, widths, activation, batch_norm, dropout, l1, l2, max_norm, initializer
):
    """Kernel layers (from `make`) with the pairing, BN, activation, dropout."""
    batch_norm = check_bool("batch_norm", batch_norm)
    selu = _is_selu(activation)
    if selu and batch_norm:
        raise ValueError(
            "`batch_norm=True` breaks SELU's self-normalization (it replaces "
            "it). Use activation='selu' without batch norm, or another "
            f"activation with it. Received: activation={activation!r}, "
            "batch_norm=True"
        )
    dropout = check_number("dropout", dropout, low=0, high=1, high_open=True)
    l1 = check_number("l1", l1, low=0)
    l2 = check_number("l2", l2, low=0)
    if max_norm is not None:
        max_norm = check_number("max_norm", max_norm, low=0, low_open=True)
    if initializer == "auto":
        initializer = initializer_for(activation)
    else:
        try:
            initializer = keras.initializers.get(initializer)
        except (ValueError, TypeError) as error:
            raise ValueError(
                "`kernel_initializer` must be 'auto' (paired with the "
                "activation), a Keras initializer or its name. Received: "
                f"kernel_initializer={initializer!r} ({error})"
            ) from None
    regularizer = keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None
    constraint = keras.constraints.MaxNorm(max_norm) if max_norm else None
    layer_activation = isinstance(activation, keras.layers.Layer)
    layers = []
    for width in widths:
        inline = None if (batch_norm or layer_activation) else activation
        layers.append(
            make(
                width,
                activation=inline,
                kernel_initializer=initializer,
                kernel_regularizer=regularizer,
                kernel_constraint=constraint,
                use_bias=not batch_norm,
            )
        )
        if batch_norm:
            layers.append(keras.layers.BatchNormalization())
        if layer_activation:
            config = {k: v for k, v in activation.get_config().items() if k != "name"}
            layers.append(type(activation).from_config(config))
        elif batch_norm:
            layers.append(keras.layers.Activation(activation))
        if dropout:
            dropout_class = keras.layers.AlphaDropout if selu else keras.layers.Dropout
            # An explicit seed, drawn from Python's generator as Keras draws a
            # default one (`keras.utils.set_random_seed` fixes both): on
            # PyTorch an unseeded dropout draws from torch's global
            # generator, which no Keras state holds, so a fit resumed from a
            # backup would drop other units.
            layers.append(dropout_class(dropout, seed=random.randint(1, 10**9)))
    return layers


def _output(num_outputs, output_activation):
    return keras.layers.Dense(
        num_outputs,
        activation=output_activation,
        kernel_initializer=initializer_for(output_activation, "output_activation"),
        name="output",
    )


def _widths(units, hidden_layers):
    if isinstance(units, (list, tuple)):
        if len(units) != hidden_layers:
            raise ValueError(
                "`units` must have one entry per hidden layer. Received: "
                f"units={list(units)}, hidden_layers={hidden_layers}"
            )
        return [
            check_int(f"units[{i}]", u, low=1, high=MAX_WIDTH)
            for i, u in enumerate(units)
        ]
    return [check_int("units", units, low=1, high=MAX_WIDTH)] * hidden_layers


def _is_selu(activation):
    if isinstance(activation, keras.layers.Activation):
        activation = activation.activation
    if isinstance(activation, str):
        return activation.lower() == "selu"
    return activation is keras.activations.selu
