"""`ResumableBackup`: continue a killed fit exactly where it stopped."""

import copy
import functools
import zipfile
from collections.abc import Mapping
from pathlib import Path

import keras
import numpy as np

from keras_recipes._internal.atomic import (
    StateFileError,
    file_sha256,
    read_json,
    refusal,
    remove,
    remove_folder_if_empty,
    remove_stale,
    write_json,
)
from keras_recipes._internal.background import (
    BackgroundWrites,
    commit_all,
    wait_for_all,
    write_model,
    write_pending,
)
from keras_recipes._internal.keras_internals import set_initial_epoch
from keras_recipes._internal.validation import check_bool, check_path

STATE_VERSION = 2


class ResumableBackup(keras.callbacks.Callback):
    """Backs up the whole training state each epoch; a rerun continues from it.

    Keras's `BackupAndRestore` restores the weights, the optimizer and the
    epoch, but not the state of other callbacks (`ModelCheckpoint.best`,
    `EarlyStopping.wait`), and it writes its backup in `on_epoch_end`, so a
    change made by a callback listed after it (a learning-rate cut) is
    missing; its files are also written in place, so a process killed
    mid-backup can leave them unreadable. This callback:

    * saves the weights (with the optimizer: iterations, slots, learning
      rate), the seed generators' states (Dropout's: not in Keras's weights
      file, so a resumed fit would drop other units; on PyTorch an unseeded
      Dropout draws from torch's own generator instead, so give it a seed,
      as `build_mlp` and `build_cnn` do) and the epoch, plus the
      state of the callbacks you name in
      `callbacks` (`state_dict()`, and `array_state()` where they have one:
      `EarlyStopping`'s best weights);
    * writes it at the **start** of the next epoch, when every callback has
      finished the previous one, whatever their order in the list;
    * writes every file atomically and commits with one JSON file, so a kill
      at any moment leaves the previous backup loadable (Keras's public
      `save_weights` writes a temporary file on the training thread; by
      default its fsync, rename and checksum, and the commit of the backup,
      run in a background thread while the epoch trains; the next backup
      and the end of `fit` wait for them);
    * on the next `fit` over the same folder, restores all of it before the
      first epoch: the fit starts at the saved epoch (`initial_epoch`), so
      the scheduling callbacks resume their schedules at the right step.

    The one way to use it: create the callbacks, name the stateful ones in
    `callbacks=`, put all of them in `fit`, and rerun the same script after a
    crash. Each callback's state is saved under the name you give it, so a
    rerun restores each state into the callback of the same name.
    `BestCheckpoint` may be named too (its state is its manifest); unnamed,
    it reads its manifest. With a deterministic data order (`shuffle=False`,
    or `keras_recipes.ShuffledBatches`, which draws epoch k's order from
    (seed, k)) the resumed run ends with the same model as an uninterrupted
    one.

    Args:
        backup_dir: Folder of the backup (created if needed).
        callbacks: `{name: callback}` of the callbacks whose state to back
            up: objects with `state_dict()` / `load_state_dict(state)`
            (`EarlyStopping`, `PerformanceScheduling`, `BestCheckpoint`).
        delete_on_completion: Remove the backup when `fit` ends normally, so
            that the next run starts afresh (Keras's behaviour).
        save_on_background: Commit each backup in a background thread (see
            above). An error there is raised at the next backup or at the end
            of `fit`; the previous backup stays the one a rerun restores.

    Raises:
        TypeError: If `callbacks` is not a mapping of names to callbacks with
            a `state_dict`.
        ValueError: At `on_train_begin`, if the model is not built, or the
            backup holds the state of other names.

    Example:

    >>> stopper = EarlyStopping(patience=5)
    >>> plateau = PerformanceScheduling(patience=2)
    >>> backup = ResumableBackup(
    ...     "run/backup", callbacks={"stopper": stopper, "plateau": plateau}
    ... )
    >>> model.fit(x, y, epochs=50, validation_split=0.1,
    ...           callbacks=[plateau, stopper, BestCheckpoint("run/best.keras"),
    ...                      backup])
    """

    def __init__(
        self,
        backup_dir,
        callbacks=None,
        delete_on_completion=True,
        save_on_background=True,
    ):
        super().__init__()
        self.save_on_background = check_bool("save_on_background", save_on_background)
        self._writes = BackgroundWrites(self.save_on_background)
        self.backup_dir = Path(check_path("backup_dir", backup_dir))
        callbacks = {} if callbacks is None else callbacks
        if not isinstance(callbacks, Mapping):
            raise TypeError(
                "`callbacks` must map a name to each callback whose state is "
                "backed up, e.g. {'stopper': stopper}. Received: "
                f"callbacks of type {type(callbacks).__name__}"
            )
        for name, callback in callbacks.items():
            if not isinstance(name, str):
                raise TypeError(
                    f"The names in `callbacks` must be strings. Received: {name!r}"
                )
            if not (
                hasattr(callback, "state_dict") and hasattr(callback, "load_state_dict")
            ):
                raise TypeError(
                    f"`callbacks[{name!r}]` needs `state_dict()` and "
                    f"`load_state_dict()`. Received: {type(callback).__name__}"
                )
        self.callbacks = dict(callbacks)
        self.delete_on_completion = check_bool(
            "delete_on_completion", delete_on_completion
        )
        self.restored_epoch = None

    @property
    def _state_path(self):
        return self.backup_dir / "state.json"

    def on_train_begin(self, logs=None):
        wait_for_all()  # A fit that raised: its last backup may land.
        self._writes.wait()
        self.restored_epoch = None
        self._first_epoch = None
        remove_stale(self.backup_dir)
        state = read_json(
            self._state_path,
            fix=f"Remove the folder {self.backup_dir} to start afresh.",
        )
        if state is None:
            return
        model = self.model
        if not model.built:
            raise ValueError(
                "ResumableBackup needs a built model to restore its weights. "
                "Give the model an `Input` or build it before `fit`."
            )
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        refuse = _check_state(state, self._state_path, self.params.get("epochs"))
        saved_names = sorted(state["callbacks"])
        if saved_names != sorted(self.callbacks):
            raise ValueError(
                f"The backup in {self.backup_dir} holds the state of callbacks "
                f"named {saved_names}, but this run names {sorted(self.callbacks)}. "
                "Name the same callbacks, or remove the backup folder."
            )
        weights = self.backup_dir / state["weights"]
        if state.get("weights_sha256") not in (None, file_sha256(weights)):
            refuse(f"{weights} does not match the checksum it recorded (damaged)")
        model.load_weights(weights)
        if state.get("random"):
            self._restore_random_state(state)
        for name, callback in self.callbacks.items():
            saved = state["callbacks"][name]
            try:
                callback.load_state_dict(saved["state"])
            except StateFileError as error:
                refuse(f"the state of {name!r}: {str(error).rstrip('.')}")
            if saved.get("arrays"):
                callback.load_array_state(
                    _load_arrays(self.backup_dir / saved["arrays"], self.backup_dir)
                )
        # The same hook as Keras's BackupAndRestore: fit() starts here.
        set_initial_epoch(model, state["epoch"])
        self.restored_epoch = state["epoch"]

    def on_epoch_begin(self, epoch, logs=None):
        if self._first_epoch is None:
            self._first_epoch = epoch
            return
        self._save(epoch)

    def on_train_end(self, logs=None):
        set_initial_epoch(self.model, None)
        self._writes.wait()
        if self.delete_on_completion:
            self._delete()

    def _save(self, epoch):
        self._writes.wait()  # The backup before is committed.
        previous = read_json(self._state_path)
        weights = f"weights-epoch{epoch:04d}.weights.h5"
        # A new name each epoch: the free space is checked against the last
        # backup's size (h5py can crash the interpreter on a full disk).
        last = previous and self.backup_dir / previous.get("weights", "")
        expected = last.stat().st_size if last and last.is_file() else None
        writes = []
        try:
            writes.append(
                write_model(
                    self.model,
                    self.backup_dir / weights,
                    weights_only=True,
                    expected_size=expected,
                )
            )
            random_state = None
            if _random_state_variables(self.model):
                random_state = f"random-epoch{epoch:04d}.npz"
                writes.append(
                    _savez(self.backup_dir / random_state, _random_state(self.model))
                )
            saved_callbacks = {}
            for index, (name, callback) in enumerate(self.callbacks.items()):
                entry = {"state": callback.state_dict()}
                arrays = (
                    callback.array_state() if hasattr(callback, "array_state") else None
                )
                if arrays is not None:
                    entry["arrays"] = f"callback{index}-epoch{epoch:04d}.npz"
                    writes.append(_savez(self.backup_dir / entry["arrays"], arrays))
                saved_callbacks[name] = entry
        except BaseException:
            for write in writes:
                write.discard()
            raise
        state = {
            "version": STATE_VERSION,
            "epoch": epoch,
            "weights": weights,
            "random": random_state,
            # A copy: the callbacks go on changing theirs while it is written.
            "callbacks": copy.deepcopy(saved_callbacks),
        }
        self._writes.submit(functools.partial(self._commit, writes, state, previous))

    def _commit(self, writes, state, previous):
        """(In the background.) The files in place, then the JSON file that
        names them (the commit point), then the files of the backup before."""
        state["weights_sha256"] = commit_all(writes)[0]["sha256"]
        write_json(self._state_path, state)
        self._remove_unreferenced(state, previous)

    def _restore_random_state(self, state):
        """The dropout (seed generator) states, which the weights file does
        not hold: without them a resumed fit drops other units."""
        path = self.backup_dir / state["random"]
        variables = _random_state_variables(self.model)
        values = _load_arrays(path, self.backup_dir)
        shapes = [tuple(v.shape) for v in variables]
        if [tuple(np.shape(v)) for v in values] != shapes:
            raise StateFileError(
                f"{path} holds {len(values)} random states that do not fit this "
                f"model's {len(variables)} ({shapes}): another model's backup? "
                f"Remove the folder {self.backup_dir} to start afresh."
            )
        for variable, value in zip(variables, values, strict=True):
            variable.assign(value)

    def _remove_unreferenced(self, state, previous):
        if previous is None:
            return
        keep = _files(state)
        for name in _files(previous) - keep:
            remove(self.backup_dir / name)

    def _delete(self):
        state = read_json(self._state_path)
        if state is None:
            return
        remove(self._state_path)
        for name in _files(state):
            remove(self.backup_dir / name)
        remove_folder_if_empty(self.backup_dir)  # Nothing left of the run.


def _savez(path, arrays):
    """`np.savez` of `arrays` to a temporary file of `path` (a `PendingWrite`)."""
    return write_pending(path, lambda tmp: np.savez(tmp, *arrays))


def _load_arrays(path, folder):
    """The arrays of an `np.savez` file, or a `StateFileError` naming it."""
    try:
        with np.load(path) as arrays:
            return [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise StateFileError(
            f"{path} cannot be read ({error}). Remove the folder {folder} to "
            "start afresh."
        ) from None


def _random_state_variables(model):
    """The model's variables that are not weights: the seed generators'
    states (Dropout, GaussianNoise, random augmentation layers)."""
    weights = {id(v) for v in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def _random_state(model):
    return [keras.ops.convert_to_numpy(v) for v in _random_state_variables(model)]


def _files(state):
    names = {state["weights"]}
    if state.get("random"):
        names.add(state["random"])
    names.update(c["arrays"] for c in state["callbacks"].values() if c.get("arrays"))
    return names


def _check_state(state, path, epochs):
    """Refuses a backup state that is not what `_save` writes, naming `path`
    and the field (a wrong resume is worse than none); returns the `refuse`
    of the checks that follow."""
    refuse = refusal(
        f"{path} cannot be trusted", f"Remove the folder {path.parent} to start afresh."
    )
    if not isinstance(state, dict):
        refuse(f"it holds a {type(state).__name__}, not the backup's fields")
    if state.get("version") != STATE_VERSION:
        refuse(
            f"`version` is {state.get('version')!r}; this ResumableBackup reads "
            f"version {STATE_VERSION} (another keras_recipes release wrote it?)"
        )
    epoch = state.get("epoch")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 1:
        refuse(f"`epoch` must be an integer >= 1, got {epoch!r}")
    if epochs is not None and epoch >= epochs:
        refuse(
            f"`epoch` is {epoch}, but this fit has {epochs} epochs (a backup is "
            "written at the start of an epoch, so it must be below that)"
        )
    for field in ("weights", "random"):
        name = state.get(field)
        if field == "random" and name is None:
            continue  # A model without seed generators.
        if not isinstance(name, str) or not (path.parent / name).is_file():
            refuse(f"`{field}` names no file of the folder ({name!r})")
    callbacks = state.get("callbacks")
    if not isinstance(callbacks, dict) or not all(
        isinstance(c, dict) and "state" in c for c in callbacks.values()
    ):
        refuse("`callbacks` must map each name to its saved `state`")
    return refuse
