"""`mc_dropout_predict`: dropout sampled at inference, batch norm not."""

import keras
import numpy as np
import pytest

import keras_recipes as kr

X = np.random.default_rng(0).normal(size=(16, 5)).astype("float32")


def model_with(dropout):
    layers = [keras.Input((5,)), keras.layers.Dense(8, "relu"),
              keras.layers.BatchNormalization()]  # fmt: skip
    if dropout:
        layers.append(keras.layers.Dropout(0.5, seed=3))
    model = keras.Sequential([*layers, keras.layers.Dense(3, "softmax")])
    # Moving statistics far from a batch's own: training mode would show.
    bn = model.layers[1]
    bn.moving_mean.assign(np.full(8, 5.0, "float32"))
    bn.moving_variance.assign(np.full(8, 9.0, "float32"))
    return model


@pytest.mark.slow
def test_the_spread_comes_from_dropout_and_batch_norm_stays_in_inference():
    model = model_with(dropout=True)
    before = [w.copy() for w in model.get_weights()]
    mean, std = kr.mc_dropout_predict(model, X, samples=40, seed=1)
    assert mean.shape == std.shape == (16, 3)
    assert np.all(std.max(axis=-1) > 0)  # the samples differ
    np.testing.assert_allclose(mean.sum(axis=-1), 1.0, rtol=1e-5)
    # The mean of many masks is near the deterministic prediction (which
    # uses the moving statistics): batch norm was not in training mode.
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # the model is untouched
    again, _ = kr.mc_dropout_predict(model, X, samples=40, seed=1)
    np.testing.assert_allclose(again, mean, rtol=1e-6)  # seeded
    deterministic = model.predict(X, verbose=0)
    trained_mode = keras.ops.convert_to_numpy(model(X, training=True))
    assert np.abs(mean - deterministic).mean() < np.abs(mean - trained_mode).mean()


def test_a_model_without_dropout_is_refused():
    with pytest.raises(ValueError, match="no Dropout layer"):
        kr.mc_dropout_predict(model_with(dropout=False), X)


@pytest.mark.parametrize("samples", [0, 2.5, True, 10**6])
def test_a_bad_sample_count_is_refused(samples):
    with pytest.raises((ValueError, TypeError), match="`samples`"):
        kr.mc_dropout_predict(model_with(dropout=True), X, samples=samples)
