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
import json
import os
import tempfile
from pathlib import Path

from keras_recipes._internal.workers import is_chief

# Temporary files are named `.tmp-keras-recipes-<name>.<random><suffixes>`: a
# process killed mid-write leaves one behind, which `remove_stale` deletes.
PREFIX = ".tmp-keras-recipes-"


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path to write; on success it replaces `path`.

    The temporary name keeps `path`'s suffixes (Keras checks `.keras` and
    `.weights.h5`).

    Example:

    >>> with atomic_path("best.keras") as tmp:
    ...     model.save(tmp)
    """
    path = Path(path)
    if not is_chief():
        # The same work, into a folder of this worker's own (a save may need
        # every worker), and nothing written into the shared one.
        with tempfile.TemporaryDirectory(prefix="keras-recipes-worker-") as folder:
            yield Path(folder) / path.name
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent,
        prefix=f"{PREFIX}{path.name.removesuffix(suffix)}.",
        suffix=suffix,
    )
    os.close(fd)
    try:
        yield Path(tmp)
        _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    _fsync_dir(path.parent)


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


def write_json(path, data):
    """Writes `data` as JSON to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, allow_nan=False))


def read_json(path):
    """Reads a JSON file, or returns `None` if there is none."""
    path = Path(path)
    if not path.exists():
        return None
    return json.loads(path.read_text())


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
