"""`BestCheckpoint`: keep the best models, atomically, across restarts."""

import math
import os
import string
from pathlib import Path

import keras

from keras_recipes._internal.atomic import (
    atomic_path,
    read_json,
    remove,
    remove_stale,
    write_json,
)
from keras_recipes._internal.validation import (
    check_bool,
    check_number,
    check_path,
    check_positive_int,
)
from keras_recipes.callbacks._monitor import Monitor

MANIFEST_VERSION = 2
MANIFEST_NAME = "checkpoints.json"


def read_manifest(path):
    """Reads a `BestCheckpoint` manifest, its paths resolved.

    The manifest names its files relative to its own folder, so a run
    restarted from another working directory, or a folder mounted elsewhere
    (a distributed search), still finds them.

    Args:
        path: The manifest, or the folder that holds `checkpoints.json`.

    Returns:
        The manifest (`monitor`, `mode`, `best`, `checkpoints`, `last`) with
        every `path` joined to the manifest's folder, or `None` if there is
        no manifest.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    return _resolved(read_json(path), path.parent)


def _resolved(manifest, folder):
    """A manifest's content with its paths joined to `folder` (or `None`)."""
    if manifest is None:
        return None
    manifest = dict(manifest)

    def resolved(entry):
        if entry is None:
            return None
        path = os.path.normpath(folder / entry["path"])
        # Version 1 stored the paths as given (relative to the working
        # directory of the run): that path, else the file in this folder.
        if manifest.get("version", 1) < 2 and not os.path.exists(path):
            given = entry["path"]
            path = given if os.path.exists(given) else str(folder / Path(given).name)
        return {**entry, "path": path}

    manifest["checkpoints"] = [resolved(c) for c in manifest.get("checkpoints", [])]
    manifest["best"] = resolved(manifest.get("best"))
    manifest["last"] = resolved(manifest.get("last"))
    return manifest


def best_checkpoint_path(path):
    """The best checkpoint that a `BestCheckpoint` manifest names, if it exists.

    Args:
        path: The manifest, or the folder that holds `checkpoints.json`.

    Returns:
        A `pathlib.Path`, or `None` without a manifest or a kept file.
    """
    manifest = read_manifest(path)
    if not manifest or not manifest["checkpoints"]:
        return None
    best = Path(manifest["checkpoints"][0]["path"])
    return best if best.exists() else None


class BestCheckpoint(keras.callbacks.Callback):
    """Saves the `save_top_k` best models of a fit, and never loses one.

    Every file is written atomically (temporary file in the same folder,
    flush + fsync, `os.replace`): a process killed or an exception raised in
    the middle of a save leaves the previous checkpoint loadable. A manifest
    (JSON, written the same way) lists the kept checkpoints with their epoch
    and monitored value and names the best; files are deleted only after the
    manifest stops naming them. NaN and Inf are never "best". A restarted run
    over the same folder reads the manifest and keeps comparing against the
    true best so far (the manifest names its files relative to its folder,
    so the working directory does not matter); `read_manifest` and
    `best_checkpoint_path` read it.

    Each checkpoint gets its own file, so that the manifest always names
    complete files: the order of a save is (1) write the new file, (2) write
    the manifest (the commit), (3) delete what the manifest no longer names.

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

    Attributes:
        best: The best monitored value so far (`None` before a finite one).
        best_path: The file of the best checkpoint (`None` before one).
        kept: `[{"epoch", "value", "path"}, ...]`, best first.

    Raises:
        ValueError: On a bad argument; at the end of the first epoch if
            `monitor` is not in the logs (the message lists the keys).

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
    ):
        super().__init__()
        self.filepath = _check_template(check_path("filepath", filepath))
        self.save_weights_only = check_bool("save_weights_only", save_weights_only)
        suffix = ".weights.h5" if self.save_weights_only else ".keras"
        if not self.filepath.endswith(suffix):
            raise ValueError(
                f"`filepath` must end in '{suffix}' when "
                f"save_weights_only={self.save_weights_only}. "
                f"Received: filepath={self.filepath!r}"
            )
        if save_freq != "epoch":
            if isinstance(save_freq, str):
                raise ValueError(
                    "`save_freq` must be 'epoch' or an integer >= 1 (batches). "
                    f"Received: save_freq={save_freq!r}"
                )
            save_freq = check_positive_int("save_freq", save_freq)
            # A batch hook only then: with one defined, Keras stops
            # dispatching steps asynchronously.
            self.on_train_batch_end = self._save_on_batch
        self.save_freq = save_freq
        unique = "{epoch" in self.filepath and (
            save_freq == "epoch" or "{batch" in self.filepath
        )
        if not unique:
            tag = "-epoch{epoch:03d}" + (
                "" if save_freq == "epoch" else "-batch{batch:05d}"
            )
            self.filepath = self.filepath.removesuffix(suffix) + tag + suffix
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
        self._tracker = Monitor(monitor, mode, min_delta, owner="BestCheckpoint")
        self.kept = []
        self.last = None
        self._restored = False

    @property
    def best(self):
        return self.kept[0]["value"] if self.kept else None

    @property
    def best_path(self):
        return self.kept[0]["path"] if self.kept else None

    def state_dict(self):
        """The run state (the manifest's content), as JSON-compatible values."""
        return self._manifest()

    def load_state_dict(self, state):
        """Restores a `state_dict`: the kept checkpoints and the best so far.

        The next `fit` continues from it instead of from the manifest on disk.
        """
        self._restore(_resolved(state, self.manifest.parent))
        self._restored = True

    def on_train_begin(self, logs=None):
        self._epoch = self._batches = 0
        remove_stale(Path(self.filepath).parent)
        if not self._restored:
            self._restore(read_manifest(self.manifest))
        self._restored = False

    def on_train_end(self, logs=None):
        # A state loaded after this fit began (a backup listed after this
        # callback) is in use now; the next fit reads the manifest again.
        self._restored = False

    def _restore(self, manifest):
        self.kept, self.last = [], None
        if manifest is None:
            return
        if manifest.get("monitor") != self.monitor:
            raise ValueError(
                f"{self.manifest} belongs to a checkpoint of "
                f"`{manifest.get('monitor')}`, not `{self.monitor}`. Use another "
                "folder or `manifest` path."
            )
        self.kept = [c for c in manifest["checkpoints"] if os.path.exists(c["path"])]
        self.last = manifest["last"]

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
        """Compares the monitored value of `logs`; saves, writes the
        manifest, evicts."""
        logs = logs or {}
        value = self._tracker.value(logs, self.model)
        entry = {"epoch": epoch + 1, "value": value}
        if batch is not None:
            entry["batch"] = batch + 1
        evicted = []
        if math.isfinite(value) and self._ranks_in_top_k(value):
            entry["path"] = self._format_path(epoch, logs, batch)
            self._save(entry["path"])
            self.kept = [c for c in self.kept if c["path"] != entry["path"]]
            self.kept = sorted(self.kept + [entry], key=self._sort_key)
            if self.save_best_only:
                evicted = self.kept[self.save_top_k :]
                self.kept = self.kept[: self.save_top_k]
            if self.verbose and self.kept[0] is entry:
                print(
                    f"\nEpoch {epoch + 1}: {self.monitor} = {value:.5g}, new best: "
                    f"saved {entry['path']}"
                )
        if self.save_last:
            self._save(str(self.last_path))
            # JSON has no NaN / Inf: a non-finite value is written as null.
            shown = value if math.isfinite(value) else None
            self.last = {**entry, "value": shown, "path": str(self.last_path)}
        write_json(self.manifest, self._manifest())
        kept_paths = {c["path"] for c in self.kept}
        for old in evicted:
            if old["path"] not in kept_paths:
                remove(old["path"])

    def _ranks_in_top_k(self, value):
        """Whether `value` beats the worst kept checkpoint by `min_delta`."""
        threshold = self.initial_value_threshold
        if threshold is not None and not self._tracker.improves_on(value, threshold):
            return False
        if not self.save_best_only or len(self.kept) < self.save_top_k:
            return True
        return self._tracker.improves_on(value, self.kept[-1]["value"])

    def _sort_key(self, checkpoint):
        value = checkpoint["value"]
        return value if self._tracker.mode == "min" else -value

    def _format_path(self, epoch, logs, batch=None):
        # Normalized as the manifest's paths are read back, so that one file
        # has one spelling (eviction compares them).
        numbers = {"epoch": epoch + 1}
        if batch is not None:
            numbers["batch"] = batch + 1
        try:
            return os.path.normpath(self.filepath.format(**numbers, **logs))
        except KeyError as error:
            raise ValueError(
                f"`filepath` names {error.args[0]!r}, which is not in this "
                f"fit's logs ({', '.join(sorted(logs)) or 'none'}). "
                f"Received: filepath={self.filepath!r}"
            ) from None

    def _save(self, path):
        # Each epoch's file has a new name: the free space is checked against
        # the largest file this callback keeps (see `atomic_path`).
        sizes = [
            os.path.getsize(c["path"]) for c in self.kept if os.path.exists(c["path"])
        ]
        with atomic_path(path, expected_size=max(sizes, default=None)) as tmp:
            if self.save_weights_only:
                self.model.save_weights(tmp)
            else:
                self.model.save(tmp)

    def _manifest(self):
        folder = self.manifest.parent

        def relative(entry):
            if entry is None:
                return None
            return {**entry, "path": os.path.relpath(entry["path"], folder)}

        kept = [relative(c) for c in self.kept]
        return {
            "version": MANIFEST_VERSION,
            "monitor": self.monitor,
            "mode": self._tracker.mode,
            "best": kept[0] if kept else None,
            "checkpoints": kept,
            "last": relative(self.last),
        }


def _check_template(filepath):
    """Checks the `str.format` fields of a checkpoint path at construction.

    Only named fields are allowed (`{epoch}`, `{batch}`, a metric such as
    `{val_loss:.4f}`); `{}` or `{0}` would fail at the first save.
    """
    try:
        fields = list(string.Formatter().parse(filepath))
    except ValueError as error:
        raise ValueError(
            f"`filepath` is not a valid template ({error}); write a literal "
            f"brace as '{{{{' or '}}}}'. Received: filepath={filepath!r}"
        ) from None
    sample = {}
    for _, field, _, _ in fields:
        if field is None:
            continue
        if not field.isidentifier():
            raise ValueError(
                "`filepath` may only hold named fields such as {epoch}, "
                "{batch} or a logged metric ({val_loss:.4f}). Received: "
                f"filepath={filepath!r} (field {{{field}}})"
            )
        sample[field] = 1 if field in ("epoch", "batch") else 0.5
    try:
        filepath.format(**sample)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"`filepath` has a format its values cannot take ({error}). "
            f"Received: filepath={filepath!r}"
        ) from None
    return filepath
