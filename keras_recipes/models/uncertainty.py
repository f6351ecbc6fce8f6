"""Monte Carlo dropout: predictions with their spread (Gal & Ghahramani, 2016).

Keras turns dropout off at inference. Sampling the model's predictions with
dropout on, many times, and taking their mean gives a (usually slightly
better) prediction, and their standard deviation says how sure the model is.
Calling the model with `training=True` would also put batch normalization in
training mode (batch statistics); here only the dropout layers are sampled:
the model is cloned with each `Dropout` replaced by one that always drops
(Géron's `MCDropout`), with the same weights.
"""

import keras
import numpy as np

from keras_recipes._internal.validation import check_int


class _AlwaysDropout(keras.layers.Dropout):
    """`Dropout` that drops at inference too."""

    def call(self, inputs, training=None):
        return super().call(inputs, training=True)


def mc_dropout_predict(model, x, *, samples=30, batch_size=256, seed=None):
    """The mean and standard deviation of `samples` predictions with dropout on.

    Args:
        model: A Sequential or functional model with `Dropout` layers.
        x: Inputs, as for `predict`.
        samples: Predictions to draw (1..10,000).
        batch_size: Predict batch size.
        seed: Seed of the dropout masks (`None`: the layers' own seeds).

    Returns:
        `(mean, std)`, arrays of the prediction's shape.

    Raises:
        ValueError: For a model without `Dropout` layers (every sample would
            be the same), or a bad `samples`.

    Example:

    >>> mean, std = mc_dropout_predict(model, x_test, samples=50)
    >>> labels, unsure = mean.argmax(-1), std.max(-1) > 0.2
    """
    samples = check_int("samples", samples, low=1, high=10_000)
    batch_size = check_int("batch_size", batch_size, low=1, high=1 << 20)
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model. Received: model={model!r}")
    if not any(isinstance(layer, keras.layers.Dropout) for layer in _layers(model)):
        raise ValueError(
            "`model` has no Dropout layer: with dropout off every sample is the "
            "same prediction. Train a model with dropout (e.g. "
            "build_mlp(..., dropout=0.2))."
        )
    counter = iter(range(1, 1 << 30))

    def clone(layer):
        if isinstance(layer, keras.layers.Dropout):
            config = layer.get_config()
            if seed is not None:
                config["seed"] = seed + next(counter)
            return _AlwaysDropout.from_config(config)
        return layer.__class__.from_config(layer.get_config())

    sampler = keras.models.clone_model(model, clone_function=clone, recursive=True)
    sampler.set_weights(model.get_weights())
    draws = np.stack(
        [
            np.asarray(sampler.predict(x, batch_size=batch_size, verbose=0))
            for _ in range(samples)
        ]
    )
    return draws.mean(axis=0), draws.std(axis=0)


def _layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _layers(layer)
