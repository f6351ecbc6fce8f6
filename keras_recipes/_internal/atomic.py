"""Atomic file writes: a reader sees the old file or the new one, never half.

The new content is written to a temporary file in the target's folder (same
file system, so the rename is atomic), flushed and fsynced, then moved over
the target with `os.replace`, and the folder is fsynced so that the rename
itself survives a crash. If anything fails before the rename, the temporary
file is removed and the target is untouched.

In a multi-worker run only the chief writes and removes the shared files
(`keras_recipes._internal.workers`): on another worker `atomic_path` yields
a path in a private temporary folder, removed after the write, and `remove`
and `remove_stale` leave the shared folder alone.
"""

import contextlib
import errno
import glob
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from keras_recipes._internal.workers import is_chief

# Temporary files are named `.tmp-keras-recipes-<name>.<random><suffixes>`: a
# process killed mid-write leaves one behind, which `remove_stale` deletes.
PREFIX = ".tmp-keras-recipes-"
# `write_json(..., keep_previous=True)` keeps the replaced file beside the new
# one under this suffix; `read_json` falls back to it when the file is torn.
PREVIOUS = ".prev"


class StateFileError(ValueError):
    """A state file that cannot be read or trusted; the message names the
    file and what to do."""


def refusal(refused, fix):
    """The `refuse(what)` of a state file's checks (the manifest, the
    backup): raises `StateFileError("<refused>: <what>. <fix>")`, where
    `refused` names the file (e.g. "state.json cannot be trusted")."""

    def refuse(what):
        raise StateFileError(f"{refused}: {what}. {fix}".rstrip())

    return refuse


# Free space asked for beyond the expected size of a write.
MARGIN_BYTES = 1 << 20


@contextlib.contextmanager
def atomic_path(path, expected_size=None):
    """Yields a temporary path to write; on success it replaces `path`.

    The temporary name keeps `path`'s suffixes (Keras checks `.keras` and
    `.weights.h5`). Before anything is written, the folder's free space is
    checked against `expected_size` (default: the size of the file being
    replaced) plus 10 % and 1 MiB: h5py, Keras's weights writer, can crash
    the interpreter (SIGSEGV) when the disk fills mid-write. A full or
    read-only disk raises an `OSError` naming `path`; the previous file is
    intact and no temporary file is left.

    Example:

    >>> with atomic_path("best.keras") as tmp:
    ...     model.save(tmp)
    """
    write = PendingWrite(path, expected_size)
    with write.discarding():
        yield write.tmp
    write.commit()


class PendingWrite:
    """`atomic_path` in two steps: write `tmp`, then `commit()` (or
    `discard()`), which another thread may do: the fsync and the rename of a
    checkpoint need not hold up training.

    On construction, the free space is checked and the temporary file made
    (see `atomic_path`, which raises the same errors); `commit()` fsyncs it
    and moves it over `path`. On a worker that is not the chief, `tmp` is in
    a private folder, which `commit()` and `discard()` delete.
    """

    def __init__(self, path, expected_size=None):
        self.path = path = Path(path)
        self._private = None
        if not is_chief():
            # The same work, into a folder of this worker's own (a save may
            # need every worker), and nothing written into the shared one.
            self._private = tempfile.mkdtemp(prefix="keras-recipes-worker-")
            self.tmp = Path(self._private) / path.name
            return
        suffix = "".join(path.suffixes)
        stem = path.name.removesuffix(suffix)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _check_free_space(path, expected_size)
            # A temporary file of this target left by a killed write is stale.
            pattern = f"{glob.escape(PREFIX + stem)}.*{glob.escape(suffix)}"
            for stale in path.parent.glob(pattern):
                with contextlib.suppress(FileNotFoundError):
                    stale.unlink()
            fd, tmp = tempfile.mkstemp(
                dir=path.parent, prefix=f"{PREFIX}{stem}.", suffix=suffix
            )
        except OSError as error:
            if str(path) in str(error):
                raise
            raise _naming(error, path) from error
        os.close(fd)
        self.tmp = Path(tmp)

    @contextlib.contextmanager
    def discarding(self):
        """On an exception inside: the temporary file removed (`path`
        intact), and an `OSError` that does not name `path` raised as one
        that does."""
        try:
            yield
        except BaseException as error:
            self.discard()
            if isinstance(error, OSError) and str(self.path) not in str(error):
                raise _naming(error, self.path) from error
            raise

    def commit(self):
        """Puts the written file in place (fsync, `os.replace`, fsync of the
        folder); on failure the temporary file is removed, `path` intact."""
        if self._private is not None:
            self.discard()
            return
        with self.discarding():
            _fsync_file(self.tmp)
            os.replace(self.tmp, self.path)
        _fsync_dir(self.path.parent)

    def discard(self):
        """Removes the temporary file (or the worker's private folder)."""
        if self._private is not None:
            shutil.rmtree(self._private, ignore_errors=True)
            return
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.tmp)


def _check_free_space(path, expected_size):
    if expected_size is None:
        expected_size = path.stat().st_size if path.exists() else 0
    needed = int(expected_size * 1.1) + MARGIN_BYTES
    free = shutil.disk_usage(path.parent).free
    if free < needed:
        raise OSError(
            errno.ENOSPC,
            f"Not enough free space to write {path}: {free:,} bytes free, "
            f"{needed:,} needed (the size of the last save + 10 % + 1 MiB). "
            "Free some space or write elsewhere; the previous file is intact",
            str(path),
        )


def _naming(error, path):
    """`error` again, as an `OSError` whose message names `path`."""
    return OSError(
        error.errno, f"Cannot write {path}: {error.strerror or error}", str(path)
    )


def remove_stale(folder):
    """Deletes temporary files left in `folder` by writes that were killed.

    Call it only when no other process is writing to `folder`.
    """
    folder = Path(folder)
    if is_chief() and folder.is_dir():
        for path in folder.glob(f"{PREFIX}*"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def remove(path):
    """Deletes `path` if it exists (on the chief only, see above)."""
    if is_chief():
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def remove_folder_if_empty(path):
    """Deletes the folder `path` if it is empty (on the chief only)."""
    if is_chief():
        with contextlib.suppress(OSError):  # Missing, or not empty.
            os.rmdir(path)


def write_json(path, data, keep_previous=False, allow_nan=False):
    """Writes `data` as JSON to `path` atomically.

    With `keep_previous`, the file it replaces (if it parses) stays beside it
    as `<path>.prev` (a hard link, so no copy), for `read_json` to fall back
    to. `allow_nan=True` writes NaN and Inf as JavaScript's names (what
    Python's `json` reads back, and KerasTuner writes for a diverged trial).
    """
    path = Path(path)
    text = json.dumps(data, indent=2, allow_nan=allow_nan)
    if keep_previous and is_chief() and _parses(path):
        with atomic_path(_previous(path)) as tmp:
            tmp.unlink()
            try:
                os.link(path, tmp)
            except OSError:  # A file system without hard links.
                shutil.copy2(path, tmp)
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def read_json(path, fix=None):
    """Reads a JSON file, or returns `None` if there is none.

    A file that does not parse (a torn write, a disk error, an edit) is
    replaced by its previous copy (`write_json(..., keep_previous=True)`)
    with a warning naming both; without a good copy, a `StateFileError`
    names the file and says what to do (`fix`).
    """
    path = Path(path)
    if not path.exists():
        if _parses(_previous(path)):
            # Killed between keeping the old copy and writing the new one
            # cannot happen (both are renames of complete files), but a user
            # may have deleted the file: the previous copy is the state.
            return _recover(path, "is missing")
        return None
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        if _parses(_previous(path)):
            return _recover(path, f"is not valid JSON ({error})")
        raise StateFileError(
            f"{path} is not valid JSON ({error}) and has no good previous copy. "
            + (fix or "Delete it to start afresh.")
        ) from None


def file_sha256(path):
    """The SHA-256 of a file's bytes, as hex (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _recover(path, why):
    previous = _previous(path)
    warnings.warn(f"{path} {why}; using its previous copy {previous}.", stacklevel=3)
    data = json.loads(previous.read_text())
    with atomic_path(path) as tmp:
        tmp.write_text(previous.read_text())
    return data


def _previous(path):
    return path.with_name(path.name + PREVIOUS)


def _parses(path):
    try:
        json.loads(Path(path).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return True


def _fsync_file(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path):
    with contextlib.suppress(OSError):  # Not every platform can open folders.
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
