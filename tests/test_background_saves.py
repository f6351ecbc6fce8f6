"""The savers commit in a background thread: what training may go on with,
what waits for it, and what a failed commit leaves.

Each test holds a commit on an `Event`, so the order of the threads is set
by the test, not by timing.
"""

import copy
import errno
import json
import shutil
import threading

import keras
import numpy as np
import pytest

import keras_recipes as kr
from keras_recipes._internal import atomic, background
from keras_recipes._internal.atomic import PREFIX, PendingWrite
from keras_recipes._internal.background import wait_for_all
from keras_recipes.callbacks import best_checkpoint, resumable_backup
from tests.conftest import Crash, FeedMetric, hold_commits

pytestmark = pytest.mark.backend_independent  # threads and files


def small_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    return model


def fit(model, scores, callbacks, epochs=None):
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 2), "float32")
    model.fit(
        x, y, epochs=epochs or len(scores), verbose=0,
        callbacks=[FeedMetric(scores, "score"), *callbacks],
    )  # fmt: skip


def release_later(held, seconds=0.3):
    """Releases `held` from another thread, after the training thread had the
    time to read what it should not read before the release."""
    timer = threading.Timer(seconds, held.set)
    timer.start()
    return timer


def crash_with_a_held_commit(tmp_path, monkeypatch, scores=(0.5, 0.4, 0.3)):
    """A fit that raises at epoch 2's start while epoch 1's commit is held
    (Keras then calls no `on_train_end`): its checkpoint and the Event that
    releases the commit."""
    held = threading.Event()
    hold_commits(monkeypatch, best_checkpoint, held)
    checkpoint = kr.BestCheckpoint(tmp_path / "best.keras", "score", "min")
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit(small_model(), list(scores), [checkpoint, Crash(1)])
    return checkpoint, held


class Probe(keras.callbacks.Callback):
    """At the second epoch's start: what is on disk, then `then()`."""

    def __init__(self, look, then=None):
        super().__init__()
        self.look, self.then, self.seen = look, then, None

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            self.seen = self.look()
            if self.then is not None:
                self.then()


@pytest.mark.parametrize("on_background", [True, False])
def test_the_next_epoch_trains_while_a_save_is_committed(
    tmp_path, monkeypatch, on_background
):
    held = threading.Event()
    if on_background:
        hold_commits(monkeypatch, best_checkpoint, held)
    checkpoint = kr.BestCheckpoint(
        tmp_path / "best.keras", "score", "min", save_on_background=on_background
    )
    manifest = tmp_path / "checkpoints.json"
    probe = Probe(lambda: (manifest.exists(), checkpoint._writes.busy), held.set)
    fit(small_model(), [0.5, 0.4], [checkpoint, probe])
    # In the background: epoch 2 began before epoch 1's file was committed.
    # Otherwise, committed before `on_epoch_end` returned.
    assert probe.seen == ((False, True) if on_background else (True, False))
    # The end of the fit waited for the last commit.
    saved = json.loads(manifest.read_text())
    assert saved["best"]["epoch"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "best-epoch002.keras",
        "checkpoints.json",
    ]  # Epoch 1's evicted once the manifest stopped naming it.
    assert checkpoint.best_path == str(tmp_path / "best-epoch002.keras")


def fail_the_commit(monkeypatch):
    """Epoch 2's commit (fsync, rename) fails."""
    commit = PendingWrite.commit

    def failing_commit(self):
        if "epoch002" in self.path.name:
            self.discard()
            raise OSError(f"Cannot write {self.path}: I/O error (simulated)")
        commit(self)

    monkeypatch.setattr(PendingWrite, "commit", failing_commit)


def fail_the_write(monkeypatch):
    """Epoch 2's file fails midway through Keras's write (a disk error)."""
    save = keras.Model.save

    def failing_save(model, path, *args, **kwargs):
        save(model, path, *args, **kwargs)  # A whole file, then the error.
        if "epoch002" in str(path):
            raise OSError(errno.EIO, "I/O error (simulated)")

    monkeypatch.setattr(keras.Model, "save", failing_save)


@pytest.mark.parametrize("fail", [fail_the_commit, fail_the_write])
def test_a_failed_save_is_raised_and_keeps_the_previous_best(
    tmp_path, monkeypatch, fail
):
    fail(monkeypatch)
    checkpoint = kr.BestCheckpoint(tmp_path / "best.keras", "score", "min")
    with pytest.raises(OSError, match=r"best-epoch002\.keras: I/O error"):
        fit(small_model(), [0.5, 0.4, 0.3], [checkpoint])
    # The write: raised at epoch 2's save. The commit: at epoch 3's, which
    # waited for it. Either way the callback forgot epoch 2 as the manifest
    # did.
    saved = json.loads((tmp_path / "checkpoints.json").read_text())
    assert [c["epoch"] for c in saved["checkpoints"]] == [1]
    assert [c["epoch"] for c in checkpoint.kept] == [1]
    assert checkpoint.best == 0.5
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "best-epoch001.keras",
        "checkpoints.json",
    ]  # No temporary file left.
    keras.models.load_model(tmp_path / "best-epoch001.keras")


def test_a_disk_that_fills_during_a_commit_keeps_the_manifest_before(
    tmp_path, monkeypatch
):
    held = threading.Event()
    held.set()
    hold_commits(monkeypatch, best_checkpoint, held)
    checkpoint = kr.BestCheckpoint(tmp_path / "best.keras", "score", "min")

    class FillDuringCommit(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:  # Epoch 1's commit done; hold epoch 2's.
                checkpoint._writes.wait()
                held.clear()
            if epoch == 2:  # Epoch 2's commit is pending: the disk fills.
                usage = shutil._ntuple_diskusage(10**9, 10**9 - 10, 10)
                monkeypatch.setattr(atomic.shutil, "disk_usage", lambda p: usage)
                held.set()

    with pytest.raises(OSError, match=r"free space to write .*checkpoints\.json"):
        fit(small_model(), [0.5, 0.4, 0.3], [FillDuringCommit(), checkpoint])
    saved = json.loads((tmp_path / "checkpoints.json").read_text())
    assert [c["epoch"] for c in saved["checkpoints"]] == [1]
    assert [c["epoch"] for c in checkpoint.kept] == [1]
    # Epoch 2's file was put in place before the manifest failed: it is not
    # named, so nothing trusts it (as a synchronous save leaves it).
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "best-epoch001.keras",
        "best-epoch002.keras",
        "checkpoints.json",
    ]


def test_a_rerun_after_a_fit_that_raised_waits_for_its_last_backup(
    tmp_path, monkeypatch
):
    # Keras calls no `on_train_end` when a fit raises: the backup of epoch 3
    # (written at its start, before the crash) may still be committing when
    # the exception arrives, and the rerun must read it, not the one before.
    held = threading.Event()
    held.set()  # Epochs 1 and 2 commit freely; the backup of epoch 3 is held.
    hold_commits(monkeypatch, resumable_backup, held)
    model = small_model()
    backup = kr.ResumableBackup(tmp_path / "backup")

    class HoldNext(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:  # Before the backup's own `on_epoch_begin`.
                backup._writes.wait()
                held.clear()

    with pytest.raises(RuntimeError, match="simulated crash"):
        fit(model, [1.0] * 4, [HoldNext(), backup, Crash(2)], epochs=4)
    state = json.loads((tmp_path / "backup" / "state.json").read_text())
    assert state["epoch"] == 1  # The backup at epoch 2's start is held.
    timer = release_later(held)
    rerun = kr.ResumableBackup(tmp_path / "backup")
    fit(small_model(), [1.0] * 4, [rerun], epochs=4)
    timer.join()
    assert rerun.restored_epoch == 2


def test_reading_a_manifest_waits_for_the_save_of_a_fit_that_raised(
    tmp_path, monkeypatch
):
    checkpoint, held = crash_with_a_held_commit(tmp_path, monkeypatch)
    assert not (tmp_path / "checkpoints.json").exists()  # Epoch 1's is held.
    timer = release_later(held)
    saved = kr.callbacks.read_manifest(tmp_path)
    timer.join()
    assert saved["best"]["epoch"] == 1
    assert not list(tmp_path.glob(f"{PREFIX}*"))


def test_a_copy_of_a_callback_does_not_take_its_running_commit(tmp_path, monkeypatch):
    # KerasTuner deep-copies the callbacks of each trial.
    checkpoint, held = crash_with_a_held_commit(tmp_path, monkeypatch)
    assert checkpoint._writes.busy
    checkpoint.set_model(None)  # As KerasTuner copies it: before a fit.
    timer = release_later(held)
    copied = copy.deepcopy(checkpoint)  # Waits for the commit, then copies.
    timer.join()
    assert not copied._writes.busy and copied._writes._thread is None
    assert [c["epoch"] for c in copied.kept] == [1]
    assert copied.kept[0]["sha256"] == checkpoint.kept[0]["sha256"]


def test_wait_for_all_joins_every_running_job():
    held, done = threading.Event(), []
    writes = [background.BackgroundWrites() for _ in range(3)]
    for index, w in enumerate(writes):
        w.submit(lambda i=index: (held.wait(timeout=60), done.append(i)))
    assert all(w.busy for w in writes)
    timer = release_later(held, 0.1)
    wait_for_all()
    timer.join()
    assert sorted(done) == [0, 1, 2]
    assert not background._RUNNING


class WaitReleases:
    """Holds each commit until the training thread waits for it: a commit is
    released by a `BackgroundWrites.wait` that finds it running, and by
    nothing else, so what no hook waits for stays uncommitted, whatever the
    timing."""

    def __init__(self, monkeypatch, module):
        self.permits = threading.Semaphore(0)
        wait = background.BackgroundWrites.wait

        def releasing_wait(writes):
            if writes.busy:
                self.permits.release()
            return wait(writes)

        def held_commit_all(writes, commit_all=module.commit_all):
            assert self.permits.acquire(timeout=60), "never waited for"
            return commit_all(writes)

        monkeypatch.setattr(background.BackgroundWrites, "wait", releasing_wait)
        monkeypatch.setattr(module, "commit_all", held_commit_all)


@pytest.mark.parametrize("saver", ["checkpoint", "backup"])
def test_the_end_of_a_fit_waits_for_its_last_commit(tmp_path, monkeypatch, saver):
    # Fails without the wait in `on_train_end`: the last commit would stay
    # held, and the files on disk would lag a save behind.
    if saver == "checkpoint":
        WaitReleases(monkeypatch, best_checkpoint)
        callback = kr.BestCheckpoint(tmp_path / "best.keras", "score", "min")
    else:
        WaitReleases(monkeypatch, resumable_backup)
        callback = kr.ResumableBackup(tmp_path / "backup", delete_on_completion=False)
    fit(small_model(), [0.5, 0.4, 0.3], [callback])
    assert not callback._writes.busy
    if saver == "checkpoint":
        saved = json.loads((tmp_path / "checkpoints.json").read_text())
        assert saved["best"]["epoch"] == 3
    else:
        state = json.loads((tmp_path / "backup" / "state.json").read_text())
        assert state["epoch"] == 2  # Written at epoch 3's start.


def test_a_rerun_waits_for_the_last_commit_before_clearing_stale_files(
    tmp_path, monkeypatch
):
    # A fit that raised left its last commit running (Keras calls no
    # `on_train_end`): the next fit's `remove_stale` would delete the file
    # that commit is about to put in place. Fails without `wait_for_all` in
    # `on_train_begin`.
    first, held = crash_with_a_held_commit(tmp_path, monkeypatch, (0.5, 0.4))
    assert first._writes.busy
    running_at_clearing = []
    remove_stale = best_checkpoint.remove_stale

    def recording_remove_stale(folder):
        running_at_clearing.append(bool(background._RUNNING))
        remove_stale(folder)

    monkeypatch.setattr(best_checkpoint, "remove_stale", recording_remove_stale)
    timer = release_later(held)  # Only unblocks the wait, if there is one.
    rerun = kr.BestCheckpoint(tmp_path / "best.keras", "score", "min")
    fit(small_model(), [0.6], [rerun])
    timer.join()
    assert running_at_clearing == [False]
    assert [c["epoch"] for c in rerun.kept] == [1]
    assert rerun.best == 0.5  # The first run's epoch 1, committed and kept.
    keras.models.load_model(rerun.best_path)


def test_a_fit_clears_the_stale_files_of_a_killed_write(tmp_path):
    # A process killed mid-write leaves `.tmp-keras-recipes-*` files: the
    # next fit removes them (fails without `remove_stale` in on_train_begin).
    tmp_path.mkdir(exist_ok=True)
    stale = tmp_path / f"{PREFIX}best-epoch007.abc123.keras"
    stale.write_bytes(b"half a file")
    checkpoint = kr.BestCheckpoint(tmp_path / "best.keras", "score", "min")
    fit(small_model(), [0.5], [checkpoint])
    assert not stale.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "best-epoch001.keras",
        "checkpoints.json",
    ]
