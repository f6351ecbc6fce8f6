"""A full disk under each of our writers: an `OSError` naming the path, the
previous files intact, no temporary file left (a simulated ENOSPC: the free
space that `atomic_path` reads is made too small after the first epoch)."""

import errno
import shutil

import keras
import pytest

import keras_recipes as kr
from keras_recipes._internal import atomic
from keras_recipes.callbacks import read_manifest
from tests.conftest import ones, probe_model


class FillDisk(keras.callbacks.Callback):
    """Makes the disk look full from the end of epoch `at` (listed first, so
    the writers of that epoch see it)."""

    def __init__(self, monkeypatch, at):
        super().__init__()
        self.monkeypatch, self.at = monkeypatch, at

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.at:
            usage = shutil._ntuple_diskusage(10**9, 10**9 - 10, 10)
            self.monkeypatch.setattr(atomic.shutil, "disk_usage", lambda p: usage)


class Falling(keras.callbacks.Callback):
    """Scripts a loss that improves every epoch (so every epoch saves)."""

    def on_epoch_end(self, epoch, logs=None):
        logs["loss"] = 1.0 / (epoch + 1)


def temporaries(folder):
    return [p for p in folder.rglob(f"{atomic.PREFIX}*")]


def test_best_checkpoint_on_a_full_disk(tmp_path, monkeypatch):
    model = probe_model(keras.optimizers.SGD(0.1))
    checkpoint = kr.BestCheckpoint(tmp_path / "best.keras", monitor="loss")
    with pytest.raises(OSError, match="free space to write .*best-epoch002") as error:
        model.fit(
            *ones(8),
            epochs=3,
            verbose=0,
            callbacks=[FillDisk(monkeypatch, at=2), Falling(), checkpoint],
        )
    assert error.value.errno == errno.ENOSPC
    manifest = read_manifest(tmp_path)
    assert [c["epoch"] for c in manifest["checkpoints"]] == [1]
    keras.models.load_model(manifest["checkpoints"][0]["path"])  # intact
    assert not temporaries(tmp_path)


def test_resumable_backup_on_a_full_disk(tmp_path, monkeypatch):
    model = probe_model(keras.optimizers.SGD(0.1))
    backup = kr.ResumableBackup(tmp_path / "backup")
    with pytest.raises(OSError, match="free space to write .*weights-epoch0002"):
        model.fit(
            *ones(8),
            epochs=4,
            verbose=0,
            callbacks=[FillDisk(monkeypatch, at=2), backup],
        )
    state = atomic.read_json(tmp_path / "backup" / "state.json")
    assert state["epoch"] == 1  # the backup written at epoch 2's start
    model.load_weights(tmp_path / "backup" / state["weights"])  # intact
    assert not temporaries(tmp_path)
