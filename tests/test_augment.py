"""Augmentation at the model's input (training only) and test-time augmentation."""

import json

import keras
import numpy as np
import pytest

import keras_recipes as kr
from keras_recipes.models.augment import augmentation_layers

IMAGES = np.random.default_rng(0).normal(size=(6, 8, 8, 1)).astype("float32")


def test_the_augmentation_runs_in_training_only():
    stack = keras.Sequential([keras.Input((8, 8, 1)), *augmentation_layers(True)])
    assert [type(layer).__name__ for layer in stack.layers] == [
        "RandomTranslation", "RandomRotation", "RandomZoom"]  # fmt: skip
    trained = keras.ops.convert_to_numpy(stack(IMAGES, training=True))
    assert np.abs(trained - IMAGES).mean() > 0.05  # moved
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(stack(IMAGES, training=False)), IMAGES
    )


@pytest.mark.slow
def test_an_augmented_cnn_predicts_as_the_same_cnn_without_it():
    augmented = kr.build_cnn((8, 8, 1), 3, filters=(4,), augment=True)
    plain = kr.build_cnn((8, 8, 1), 3, filters=(4,))
    plain.set_weights(augmented.get_weights())  # the same weights (none added)
    np.testing.assert_allclose(
        augmented.predict(IMAGES, verbose=0), plain.predict(IMAGES, verbose=0),
        rtol=1e-6, atol=1e-7,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("augment", "message"),
    [
        ({"rotate": 0.1}, "unknown keys ['rotate']"),
        ({"rotation": 1.5}, "`augment['rotation']` must be"),
        ({"flip": "yes"}, "`augment['flip']` must be True or False"),
        (0.1, "`augment` must be True, False or a dict"),
    ],
)
@pytest.mark.backend_independent
def test_bad_augmentation_is_refused_naming_it(augment, message):
    with pytest.raises((TypeError, ValueError)) as caught:
        kr.build_cnn((8, 8, 1), 3, augment=augment)
    assert message in str(caught.value)


def test_tta_averages_the_fixed_shifted_and_flipped_copies():
    # A model that returns its input: the mean of the copies, computed here.
    identity = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten()])
    x = np.arange(2 * 64, dtype="float32").reshape(2, 8, 8, 1)

    def shifted(a, offset, axis):
        out = np.zeros_like(a)
        source = [slice(None)] * 4
        target = [slice(None)] * 4
        source[axis] = slice(0, 8 - offset) if offset > 0 else slice(-offset, 8)
        target[axis] = slice(offset, 8) if offset > 0 else slice(0, 8 + offset)
        out[tuple(target)] = a[tuple(source)]
        return out

    copies = [x] + [shifted(x, s, axis) for axis in (1, 2) for s in (1, -1)]
    expected = np.mean([c.reshape(2, -1) for c in copies], axis=0)
    np.testing.assert_allclose(kr.tta_predict(identity, x), expected, rtol=1e-6)
    flipped = copies + [np.flip(c, axis=2) for c in copies]
    np.testing.assert_allclose(
        kr.tta_predict(identity, x, flip=True),
        np.mean([c.reshape(2, -1) for c in flipped], axis=0), rtol=1e-6,
    )  # fmt: skip
    np.testing.assert_allclose(
        kr.tta_predict(identity, x, shift=0), x.reshape(2, -1), rtol=1e-6
    )


@pytest.mark.backend_independent
@pytest.mark.slow
def test_train_augment_puts_the_layers_in_the_saved_model(tmp_path, capsys):
    from keras_recipes import cli

    log_dir = tmp_path / "run"
    assert cli.main(["train", "--smoke", "--augment", "--log-dir", str(log_dir)]) == 0
    best = keras.models.load_model(next((log_dir / "best").glob("*.keras")))
    names = [type(layer).__name__ for layer in best.layers]
    assert "RandomTranslation" in names and "RandomRotation" in names
    assert json.loads((log_dir / "args.json").read_text())["augment"] is True
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--model", "mlp", "--augment", "--log-dir",
                  str(tmp_path / "mlp")])  # fmt: skip
    assert exit_info.value.code == 2
    assert "--augment shifts and rotates images" in capsys.readouterr().err
    assert not (tmp_path / "mlp").exists()
