"""The pairing table, the builders, and the property the pairing exists for."""

import keras
import numpy as np
import pytest

from keras_recipes.models import build_cnn, build_mlp, initializer_for


@pytest.mark.parametrize(
    "activation, expected",
    [
        ("relu", "he_normal"),
        ("leaky_relu", "he_normal"),
        ("elu", "he_normal"),
        ("gelu", "he_normal"),
        ("swish", "he_normal"),
        ("mish", "he_normal"),
        ("selu", "lecun_normal"),
        ("tanh", "glorot_uniform"),
        ("sigmoid", "glorot_uniform"),
        ("softmax", "glorot_uniform"),
        ("linear", "glorot_uniform"),
        (None, "glorot_uniform"),
        (keras.activations.gelu, "he_normal"),
        (keras.activations.selu, "lecun_normal"),
        (keras.activations.silu, "he_normal"),
        (keras.layers.LeakyReLU(), "he_normal"),
        (keras.layers.PReLU(), "he_normal"),
        (keras.layers.Activation("tanh"), "glorot_uniform"),
    ],
)
def test_pairing_table(activation, expected):
    assert initializer_for(activation) == expected


def test_unknown_activation_lists_the_known_ones():
    with pytest.raises(
        ValueError,
        match=r"`activation` is an unknown activation.*gelu, leaky.*"
        r"Received: activation='softplus'",
    ):
        initializer_for("softplus")


def kernel_initializers(model):
    return [
        type(layer.kernel_initializer).__name__
        for layer in model.layers
        if hasattr(layer, "kernel_initializer")
    ]


@pytest.mark.parametrize(
    "activation, expected",
    [("relu", "HeNormal"), ("selu", "LecunNormal"), ("tanh", "GlorotUniform")],
)
def test_build_mlp_sets_paired_initializers(activation, expected):
    model = build_mlp((8,), 3, hidden_layers=3, units=16, activation=activation)
    assert kernel_initializers(model) == [expected] * 3 + ["GlorotUniform"]
    assert model.output_shape == (None, 3)
    assert not model.compiled


def test_build_mlp_options():
    model = build_mlp(
        (4, 4), 1, hidden_layers=2, units=[32, 16], batch_norm=True, dropout=0.2,
        l2=1e-4, max_norm=3.0, output_activation=None,
    )  # fmt: skip
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == [
        "Flatten", "Dense", "BatchNormalization", "Activation", "Dropout",
        "Dense", "BatchNormalization", "Activation", "Dropout", "Dense",
    ]  # fmt: skip
    dense = model.layers[1]
    assert dense.units == 32 and not dense.use_bias
    assert float(dense.kernel_regularizer.l2) == pytest.approx(1e-4)
    assert float(dense.kernel_constraint.max_value) == 3.0
    override = build_mlp((4,), 2, kernel_initializer="orthogonal")
    assert kernel_initializers(override)[:2] == ["Orthogonal", "Orthogonal"]


def test_selu_uses_alpha_dropout_and_refuses_batch_norm():
    model = build_mlp((4,), 2, activation="selu", dropout=0.1)
    assert any(isinstance(layer, keras.layers.AlphaDropout) for layer in model.layers)
    assert not any(type(layer) is keras.layers.Dropout for layer in model.layers)
    with pytest.raises(ValueError, match=r"`batch_norm=True` breaks SELU"):
        build_mlp((4,), 2, activation="selu", batch_norm=True)


def test_activation_layers_are_copied_per_layer():
    model = build_mlp((4,), 2, hidden_layers=2, activation=keras.layers.LeakyReLU(0.1))
    leaky = [
        layer for layer in model.layers if isinstance(layer, keras.layers.LeakyReLU)
    ]
    assert len(leaky) == 2 and leaky[0] is not leaky[1]
    assert kernel_initializers(model)[:2] == ["HeNormal", "HeNormal"]


@pytest.mark.slow
def test_build_cnn_trains_on_digit_shaped_images():
    model = build_cnn((8, 8), 10, filters=(8, 16), dense_units=16)
    assert kernel_initializers(model)[:5] == ["HeNormal"] * 5
    model.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(16, 8, 8)).astype("float32")
    history = model.fit(x, np.arange(16) % 10, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.output_shape == (None, 10)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: build_mlp((4,), 0), r"`num_outputs` must be >= 1"),
        (lambda: build_mlp((4,), 2, dropout=1.0), r"`dropout` must be >= 0 and < 1"),
        (lambda: build_mlp((4,), 2, l2=-1), r"`l2` must be >= 0"),
        (lambda: build_mlp((4,), 2, units=[8]), r"`units` must have one entry per"),
        (lambda: build_mlp((4,), 2, max_norm=0), r"`max_norm` must be > 0"),
        (lambda: build_mlp((4,), 2, activation="softplus"), r"unknown activation"),
        (lambda: build_cnn((8,), 2), r"`input_shape` must be \(height, width\)"),
        (lambda: build_cnn((8, 8, 1), 2, activation="selu"), r"breaks SELU"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------- the property of the pairing


def hidden_outputs(model, x, pre_activation=False):
    """Outputs of every hidden Dense layer (post-activation by default)."""
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    probe = keras.Model(model.inputs, [layer.output for layer in dense[:-1]])
    outputs = [np.asarray(o) for o in probe.predict(x, verbose=0, batch_size=len(x))]
    if pre_activation:
        # Dense applies its activation inside: recompute z = x W + b.
        inputs = [x] + outputs[:-1]
        outputs = [
            i @ np.asarray(layer.kernel) + np.asarray(layer.bias)
            for i, layer in zip(inputs, dense[:-1], strict=True)
        ]
    return outputs


def standardized_inputs():
    x = np.random.default_rng(0).normal(size=(1000, 256))
    return ((x - x.mean(0)) / x.std(0)).astype("float32")


def test_selu_with_lecun_keeps_50_layers_self_normalized():
    x = standardized_inputs()
    model = build_mlp((256,), 10, hidden_layers=50, units=256, activation="selu")
    last = hidden_outputs(model, x)[-1]
    assert abs(last.mean()) < 0.1 and abs(last.std() - 1.0) < 0.1


@pytest.mark.slow
def test_relu_with_glorot_collapses_where_he_holds():
    x = standardized_inputs()
    glorot = build_mlp(
        (256,), 10, hidden_layers=50, units=256, kernel_initializer="glorot_uniform"
    )
    collapsed = hidden_outputs(glorot, x)[-1].std()
    assert collapsed < 1e-6  # ~2**-25 of the input scale: orders of magnitude

    # He: the pre-activation variance of layer 20 stays within a factor of 2
    # of layer 1's. A finite width makes the log-variance a random walk
    # (at width 100 it drifts to ~0.55 over 100 layers), so take the median of
    # 5 networks.
    x = x[:, :128] / x[:, :128].std()
    ratios = []
    for seed in range(5):
        keras.utils.set_random_seed(seed)
        he = build_mlp((128,), 10, hidden_layers=20, units=512, activation="relu")
        variances = [z.var() for z in hidden_outputs(he, x, pre_activation=True)]
        ratios.append(variances[-1] / variances[0])
    assert 0.5 < np.median(ratios) < 2.0
