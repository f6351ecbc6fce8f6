"""A save committed in the background holds the state of its own epoch,
whatever training did before the commit landed, on every backend (PyTorch
updates its variables in place; JAX reuses donated buffers)."""

import threading

import keras
import numpy as np
import pytest

import keras_recipes as kr
from keras_recipes._internal import background
from keras_recipes.callbacks import best_checkpoint
from tests.conftest import ReleaseAt, hold_commits
from tests.test_background_saves import fit, small_model


class EpochKernels(keras.callbacks.Callback):
    """The kernel at each epoch's end."""

    def __init__(self):
        super().__init__()
        self.kernels = []

    def on_epoch_end(self, epoch, logs=None):
        kernel = self.model.layers[0].kernel
        self.kernels.append(keras.ops.convert_to_numpy(kernel).copy())


@pytest.mark.parametrize("weights_only", [False, True])
def test_a_save_written_after_the_next_epoch_holds_the_state_of_its_own(
    tmp_path, monkeypatch, weights_only
):
    # Epoch 1's file is committed only once epoch 2 has trained (its commit
    # held until then): it holds the state of epoch 1's end.
    held = threading.Event()
    hold_commits(monkeypatch, best_checkpoint, held)
    suffix = ".weights.h5" if weights_only else ".keras"
    checkpoint = kr.BestCheckpoint(
        tmp_path / f"best{suffix}", "score", "min", save_weights_only=weights_only
    )
    kernels = EpochKernels()
    model = small_model()
    # Epoch 2 saves nothing; its end releases epoch 1's commit.
    fit(model, [0.5, 0.6], [kernels, ReleaseAt(held), checkpoint])
    first, second = kernels.kernels
    assert not np.array_equal(first, second)
    if weights_only:
        model.load_weights(checkpoint.best_path)
    else:
        model = keras.models.load_model(checkpoint.best_path)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model.layers[0].kernel), first
    )


class OwnSave(keras.Sequential):
    """A model class whose `save_weights` is its own."""

    calls = 0

    def save_weights(self, filepath, **kwargs):
        OwnSave.calls += 1
        return super().save_weights(filepath, **kwargs)


def test_a_model_with_a_save_of_its_own_is_saved_by_it(tmp_path):
    model = OwnSave([keras.Input((3,)), keras.layers.Dense(2)])
    pending = background.write_model(model, tmp_path / "w.weights.h5", True)
    assert OwnSave.calls == 1
    pending.commit()
    model.load_weights(tmp_path / "w.weights.h5")
