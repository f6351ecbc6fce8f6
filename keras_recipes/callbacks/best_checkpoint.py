"""`BestCheckpoint`: keep the best models, atomically, across restarts."""

import functools
import math
import os
import uuid
from pathlib import Path

import keras

from keras_recipes._internal.atomic import remove, remove_stale, write_json
from keras_recipes._internal.background import (
    BackgroundWrites,
    commit_all,
    wait_for_all,
    write_model,
)
from keras_recipes._internal.validation import (
    check_bool,
    check_choice,
    check_format_template,
    check_number,
    check_path,
    check_positive_int,
)
from keras_recipes.callbacks._manifest import (
    MANIFEST_NAME,
    _check_manifest,
    _resolved,
    checkpoint_template,
    files_named,
    format_path,
    free_path,
    is_earlier_run,
    manifest_content,
    read_for_fit,
    refuse_earlier_run,
    trusted_files,
    verify_checkpoint,
)
from keras_recipes.callbacks._monitor import Monitor
from keras_recipes.callbacks._ranking import Ranking

# What a fit does with a folder whose manifest another run wrote.
EXISTING = ("continue", "refuse", "overwrite")


class BestCheckpoint(keras.callbacks.Callback):
    """Saves the `save_top_k` best models of a fit, and never loses one.

    Every file is written atomically (temporary file in the same folder,
    flush + fsync, `os.replace`): a process killed or an exception raised in
    the middle of a save leaves the previous checkpoint loadable. A manifest
    (JSON, written the same way) lists the kept checkpoints with their epoch
    and monitored value and names the best; files are deleted only after the
    manifest stops naming them. NaN and Inf are never "best".

    The files are owned by their run. The manifest records which run wrote
    each file, with its size and SHA-256, checked before a file is trusted
    (on restart, `best_path`, `best_checkpoint_path`). A fit into a folder
    whose manifest an earlier run wrote (a rerun of the same script, which
    numbers its epochs from 1 again) does what `existing` says; by default it
    keeps comparing against the true best so far and never overwrites a kept
    file: a name that another run's kept file holds gets `-run<k>` before its
    suffix (`best-epoch001-run2.keras`). Keras's `ModelCheckpoint` overwrites
    it. A run restored by `ResumableBackup` (which names this callback) is
    the same run. The manifest names its files relative to its folder, so
    the working directory does not matter; `read_manifest` and
    `best_checkpoint_path` read it.

    Each checkpoint gets its own file, so that the manifest always names
    complete files: the order of a save is (1) write the new file, (2) write
    the manifest (the commit), (3) delete what the manifest no longer names.
    Keras's public `model.save` writes the file (a temporary one) on the
    training thread; by default its fsync, rename, SHA-256, the manifest and
    the deletions follow in a background thread, which the next save, the
    end of `fit`, `best_path` and `state_dict()` wait for.

    Args:
        filepath: Where to save. May hold `{epoch}` and log keys, as Keras's
            `ModelCheckpoint` (e.g. `"ckpt/epoch{epoch:03d}-{val_loss:.3f}.keras"`);
            must end in `.keras`, or `.weights.h5` with `save_weights_only`.
            A path without `{epoch}` gets `-epoch{epoch:03d}` before its
            suffix (`best.keras` -> `best-epoch007.keras`; with an integer
            `save_freq`, also `-batch{batch:05d}`); `best_path` and the
            manifest name the current best.
        monitor: Key of the epoch logs to compare.
        mode: `"auto"`, `"min"` or `"max"`.
        min_delta: Smallest improvement over a kept checkpoint that counts.
        save_top_k: How many of the best checkpoints to keep (>= 1).
        save_best_only: `False` keeps every checkpoint with a finite value
            (Keras's `save_best_only=False`; `save_top_k` is then unused).
        initial_value_threshold: Save nothing that is not better than this
            (Keras's argument of the same name).
        save_freq: `"epoch"` (default) compares and saves at the end of each
            epoch; an integer N does it every N batches (Keras's meaning),
            on the training logs of that batch (a running mean over the
            epoch so far; validation metrics exist only at epoch end).
            `filepath` may then hold `{batch}`.
        save_last: Also keep the latest epoch as `last.keras` (or
            `last.weights.h5`) in the same folder. That file is replaced in
            place (atomically); after a crash the manifest's `last` entry
            may name the epoch before the one in the file.
        save_weights_only: Save weights (`.weights.h5`) instead of models.
        manifest: Path of the manifest; defaults to `checkpoints.json` in the
            folder of `filepath`.
        verbose: 1 prints a line when a new best is saved.
        existing: What a fit does when the manifest holds an earlier run's
            checkpoints: `"continue"` (compare against them, keep the better
            ones), `"refuse"` (raise at `on_train_begin`, before anything is
            written), or `"overwrite"` (delete the files the manifest names
            and start empty).
        save_on_background: Commit each save in a background thread (see
            above; Keras's `OrbaxCheckpoint` has an argument of that name).
            An error there is raised at the next save or at the end of
            `fit`, the previous checkpoints kept. `False`: all of it before
            the hook returns.

    Attributes:
        best: The best monitored value so far (`None` before a finite one).
        best_path: The file of the best checkpoint (`None` before one).
        kept: `[{"epoch", "value", "path"}, ...]`, best first.

    Raises:
        ValueError: On a bad argument; at the end of the first epoch if
            `monitor` is not in the logs (the message lists the keys); at
            `on_train_begin` with `existing="refuse"` and an earlier run's
            checkpoints.
        StateFileError: (a `ValueError`) At `on_train_begin`, if the manifest
            or a kept file cannot be trusted; the message names the file and
            the fix.

    Example:

    >>> checkpoint = BestCheckpoint("ckpt/best.keras", monitor="val_accuracy")
    >>> model.fit(x, y, validation_split=0.1, epochs=20, callbacks=[checkpoint])
    >>> best = keras.models.load_model(checkpoint.best_path)  # safe_mode on
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        mode="auto",
        min_delta=0.0,
        save_top_k=1,
        save_last=False,
        save_weights_only=False,
        manifest=None,
        verbose=0,
        save_best_only=True,
        initial_value_threshold=None,
        save_freq="epoch",
        existing="continue",
        save_on_background=True,
    ):
        super().__init__()
        self.save_on_background = check_bool("save_on_background", save_on_background)
        self._writes = BackgroundWrites(self.save_on_background)
        self.filepath = check_format_template(
            "filepath", check_path("filepath", filepath)
        )
        self.save_weights_only = check_bool("save_weights_only", save_weights_only)
        suffix = ".weights.h5" if self.save_weights_only else ".keras"
        self.filepath, self.save_freq = checkpoint_template(
            self.filepath, suffix, save_freq
        )
        if self.save_freq != "epoch":
            # A batch hook only then: with one defined, Keras stops
            # dispatching steps asynchronously.
            self.on_train_batch_end = self._save_on_batch
        self.save_top_k = check_positive_int("save_top_k", save_top_k)
        self.save_best_only = check_bool("save_best_only", save_best_only)
        self.initial_value_threshold = (
            None
            if initial_value_threshold is None
            else check_number("initial_value_threshold", initial_value_threshold)
        )
        self.monitor = monitor
        self.mode = mode
        self.min_delta = min_delta
        self.save_last = check_bool("save_last", save_last)
        folder = Path(self.filepath).parent
        manifest = check_path("manifest", manifest, allow_none=True)
        self.manifest = Path(manifest) if manifest else folder / MANIFEST_NAME
        self.last_path = Path(os.path.normpath(folder / f"last{suffix}"))
        self.verbose = verbose
        self.existing = check_choice("existing", existing, EXISTING)
        self._tracker = Monitor(monitor, mode, min_delta, owner="BestCheckpoint")
        self._ranking = None  # At each fit's start, from the arguments.
        self.kept = []
        self.last = None
        self.runs = []
        # One id for all of this callback's fits (or a restored run's).
        self.run_id = None
        self._restored = False
        self._verified = None
        # (kept, last) as the manifest on disk has them, while a save lands.
        self._committed = ([], None)

    @property
    def best(self):
        return self.kept[0]["value"] if self.kept else None

    @property
    def best_path(self):
        """The best checkpoint's file, checked against its size and SHA-256
        (`StateFileError` if it changed since it was saved)."""
        self._wait()
        if not self.kept:
            return None
        best = self.kept[0]
        if not os.path.exists(best["path"]):
            return best["path"]  # Loading it says what is missing.
        stat = os.stat(best["path"])
        key = (best["path"], stat.st_size, stat.st_mtime_ns, best.get("sha256"))
        if key != self._verified:  # Hashed once per file, not per access.
            verify_checkpoint(best)
            self._verified = key
        return best["path"]

    def state_dict(self):
        """The run state (the manifest's content), as JSON-compatible values."""
        self._wait()
        return self._manifest()

    def load_state_dict(self, state):
        """Restores a `state_dict`: the kept checkpoints and the best so far.

        The next `fit` continues from it (the same run) instead of from the
        manifest on disk.

        Raises:
            StateFileError: If a field of `state` is not what `state_dict`
                gives, or a kept file changed since it was saved.
        """
        self._wait()
        _check_manifest(state, "The state given to load_state_dict is wrong", "")
        self._restore(_resolved(state, self.manifest.parent))
        self.run_id = state.get("run") or self.run_id
        self._restored = True

    def on_train_begin(self, logs=None):
        wait_for_all()  # After a fit that raised, its last save may land.
        self._wait()
        self._epoch = self._batches = 0
        self._tracker.start_fit()
        threshold = self.initial_value_threshold
        self._ranking = Ranking(
            self._tracker, self.save_top_k, self.save_best_only, threshold
        )
        remove_stale(Path(self.filepath).parent)
        if not self._restored:
            manifest = read_for_fit(self.manifest, self.existing)
            if is_earlier_run(manifest, self.run_id):
                if self.existing == "refuse":
                    refuse_earlier_run(self.manifest, manifest, self.monitor)
                if self.existing == "overwrite":
                    self._remove_all(manifest)
                    manifest = None
            self._restore(manifest)
        self._restored = False
        if self.run_id is None:
            self.run_id = uuid.uuid4().hex[:12]
        if self.run_id not in self.runs:
            self.runs.append(self.run_id)

    def on_train_end(self, logs=None):
        # A state loaded after this fit began (a backup listed after this
        # callback) is in use now; the next fit reads the manifest again.
        self._restored = False
        self._wait()
        self._tracker.check_seen()

    def _wait(self):
        """Returns once the last save is committed; if that failed, forgets
        what it added (as the manifest on disk does) and raises the error."""
        try:
            self._writes.wait()
        except BaseException:
            self.kept, self.last = self._committed
            raise

    def _restore(self, manifest):
        self.kept, self.last, self.runs = [], None, []
        if manifest is None:
            return
        if manifest.get("monitor") != self.monitor:
            raise ValueError(
                f"{self.manifest} belongs to a checkpoint of "
                f"`{manifest.get('monitor')}`, not `{self.monitor}`. Use another "
                "folder or `manifest` path."
            )
        self.kept = trusted_files(manifest, self.manifest)
        self.last = manifest["last"]
        self.runs = list(manifest.get("runs", []))

    def _remove_all(self, manifest):
        """existing='overwrite': an empty manifest first (the commit), then
        the files the old one named."""
        self.kept, self.last, self.runs = [], None, []
        write_json(self.manifest, self._manifest())
        for path in files_named(manifest):
            remove(path)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def _save_on_batch(self, batch, logs=None):
        # `on_train_batch_end` with an integer `save_freq` (see __init__).
        self._batches += 1
        if self._batches % self.save_freq == 0:
            self._consider(self._epoch, logs, batch)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._consider(epoch, logs)

    def _consider(self, epoch, logs, batch=None):
        """Compares the monitored value of `logs`; saves, then commits (in
        the background): the files, the manifest, the evictions."""
        self._wait()
        self._committed = (list(self.kept), self.last)
        try:
            written, evicted = self._save(epoch, logs or {}, batch)
        except BaseException:
            self.kept, self.last = self._committed
            raise
        self._writes.submit(functools.partial(self._commit, written, evicted))

    def _save(self, epoch, logs, batch):
        """Writes the files this save keeps (a new best, `last`); returns
        `(written, evicted)`: `(entry, PendingWrite)` pairs to commit, and
        the entries the top k no longer holds. On failure nothing is left."""
        value = self._tracker.value(logs, self.model)
        if value is None:  # No validation this epoch: no best, `last` still.
            value = math.nan
        entry = {"epoch": epoch + 1, "value": value}
        if batch is not None:
            entry["batch"] = batch + 1
        written, evicted = [], []
        try:
            if self._ranking.admits(self.kept, value):
                entry["path"] = self._free_path(
                    format_path(self.filepath, epoch, logs, batch)
                )
                entry["run"] = self.run_id
                written.append((entry, self._write(entry["path"])))
                self.kept, evicted = self._ranking.insert(self.kept, entry)
                if self.verbose and self.kept[0] is entry:
                    print(
                        f"\nEpoch {epoch + 1}: {self.monitor} = {value:.5g}, new "
                        f"best: saved {entry['path']}"
                    )
            if self.save_last:
                # JSON has no NaN / Inf: a non-finite value is written as null.
                shown = value if math.isfinite(value) else None
                path = str(self.last_path)
                self.last = {**entry, "value": shown, "path": path, "run": self.run_id}
                written.append((self.last, self._write(path)))
        except BaseException:
            for _, write in written:
                write.discard()
            raise
        return written, evicted

    def _commit(self, written, evicted):
        """(In the background.) The files in place, then the manifest that
        names them (the commit), then the evicted files it no longer names."""
        sums = commit_all([write for _, write in written])
        for (entry, _), saved in zip(written, sums, strict=True):
            entry.update(saved)
        write_json(self.manifest, self._manifest())
        kept_paths = {c["path"] for c in self.kept}
        for old in evicted:
            if old["path"] not in kept_paths:
                remove(old["path"])

    def _free_path(self, path):
        # A kept file is never overwritten (its entry would be lost with it).
        taken = {c["path"] for c in self.kept} | {str(self.last_path)}
        suffix = ".weights.h5" if self.save_weights_only else ".keras"
        return free_path(path, taken, suffix, self.runs.index(self.run_id) + 1)

    def _write(self, path):
        # A new name each epoch: free space for the largest kept file.
        kept = [c["path"] for c in self.kept if os.path.exists(c["path"])]
        expected = max(map(os.path.getsize, kept), default=None)
        return write_model(self.model, path, self.save_weights_only, expected)

    def _manifest(self):
        return manifest_content(
            self.manifest.parent,
            monitor=self.monitor,
            mode=self._tracker.mode,
            run=self.run_id,
            runs=self.runs,
            kept=self.kept,
            last=self.last,
        )
