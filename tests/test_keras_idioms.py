"""The callbacks beside what Keras users write: `fit(validation_freq=k)`."""

import json
import warnings

import keras
import numpy as np
import pytest

import keras_recipes as kr
from keras_recipes.callbacks import PerformanceScheduling


def regression_fit(callbacks, epochs=6, validation_freq=2):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5], [3.0]], "float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    history = model.fit(
        x, y, batch_size=16, epochs=epochs, verbose=0, callbacks=callbacks,
        validation_data=(x[:16], y[:16]), validation_freq=validation_freq,
    )  # fmt: skip
    return model, history.history


def test_validation_freq_skips_the_epochs_that_did_not_validate(tmp_path):
    checkpoint = kr.BestCheckpoint(tmp_path / "best.keras", save_top_k=3)
    stopper = kr.EarlyStopping(patience=10)
    plateau = PerformanceScheduling(patience=1)
    with pytest.warns(UserWarning, match="validation_freq"):
        regression_fit([checkpoint, stopper, plateau])
    saved = json.loads((tmp_path / "checkpoints.json").read_text())
    # Epochs 2, 4 and 6 validated; the others were skipped.
    assert sorted(c["epoch"] for c in saved["checkpoints"]) == [2, 4, 6]
    assert stopper.best_epoch == 6 and stopper.wait == 0
    assert plateau.wait == 0 and plateau.scale == 1.0  # Nothing cut.


def test_every_epoch_validating_warns_of_nothing(tmp_path):
    checkpoint = kr.BestCheckpoint(tmp_path / "best.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        regression_fit([checkpoint], epochs=2, validation_freq=1)
    assert checkpoint.kept[0]["epoch"] == 2


def test_a_fit_in_which_no_epoch_validated_is_refused_at_its_end():
    stopper = kr.EarlyStopping(patience=10)
    with pytest.warns(UserWarning, match="validation_freq"):
        with pytest.raises(ValueError, match="`val_loss`, which was in no epoch's"):
            regression_fit([stopper], epochs=2, validation_freq=3)
