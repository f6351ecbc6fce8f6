"""A full disk under each of our writers: an `OSError` naming the path, the
previous files intact, no temporary file left (a simulated ENOSPC: the free
space that `atomic_path` reads is made too small after the first epoch)."""

import errno
import re
import shutil

import keras
import pytest

import keras_recipes as kr
from keras_recipes._internal import atomic
from keras_recipes._internal.background import wait_for_all
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
            # Once the writes before have landed (the savers commit in a
            # background thread): the disk fills between two saves.
            wait_for_all()
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


@pytest.mark.backend_independent  # KerasTuner's state writes, through ours.
@pytest.mark.parametrize(
    "name, inside_a_trial",
    [("oracle.json", False), ("trial.json", False), ("tuner0.json", False),
     ("build_config.json", True), ("checkpoint.weights.h5", True)],
)  # fmt: skip
@pytest.mark.slow
def test_a_full_disk_under_each_keras_tuner_write(
    tmp_path, monkeypatch, name, inside_a_trial
):
    # A search of one trial, then a longer one over it while the disk looks
    # full to the writes of `name` only: each fails naming its file, no state
    # file is torn, and with space again the search goes on over it.
    import json

    from tests.test_tuner_state import finished_trials, run_search

    run_search(tmp_path, max_trials=1)
    before = finished_trials(tmp_path)
    check = atomic._check_free_space

    def full_for_name(path, expected_size):
        if path.name == name:
            usage = shutil._ntuple_diskusage(10**9, 10**9 - 10, 10)
            monkeypatch.setattr(atomic.shutil, "disk_usage", lambda p: usage)
            try:
                return check(path, expected_size)
            finally:
                monkeypatch.undo()
                monkeypatch.setattr(atomic, "_check_free_space", full_for_name)
        return check(path, expected_size)

    monkeypatch.setattr(atomic, "_check_free_space", full_for_name)
    named = rf"free space to write \S*{name}"
    if inside_a_trial:
        # KerasTuner records an error inside a trial as a failed trial.
        result = run_search(tmp_path, max_trials=3)
        failed = [r for r in result.trials if r["status"] != "COMPLETED"]
        assert len(failed) == 2
        assert all(re.search(named, r["message"]) for r in failed)
    else:
        with pytest.raises(OSError, match=named):
            run_search(tmp_path, max_trials=3)
    monkeypatch.undo()
    for state in (tmp_path / "search").rglob("*.json"):
        json.loads(state.read_text())  # None torn.
    assert not temporaries(tmp_path)
    result = run_search(tmp_path, max_trials=5)
    after = finished_trials(tmp_path)
    for trial_id, score in before.items():
        assert after[trial_id] == score
    assert len(result.trials) == 5 and len(after) >= 3
