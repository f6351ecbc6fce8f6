"""One write at a time in a background thread, its errors raised later.

Keras's writer (`model.save`, public) reads the live variables while it
writes, so it runs on the training thread, into a temporary file. What
follows need not hold up training: the file's fsync and rename
(`atomic.PendingWrite`), its SHA-256, and the manifest that commits it.
`BackgroundWrites.submit(job)` runs those in a thread of its own; the next
`submit` and `wait()` first wait for the job before, so the writes land in
the order they were made, and at most one is in flight. An exception
in a job is raised by the next `submit` or `wait()` on the training thread.

A process killed while a job runs leaves what a kill in the middle of a
synchronous save leaves: the previous state, committed, and a stale
temporary file that the next fit removes. A fit that raises calls no
`on_train_end`, so its last job may still run when the exception arrives:
whatever reads the savers' folders next (their `on_train_begin`,
`read_manifest`) calls `wait_for_all()` first.
"""

import os
import threading

from keras_recipes._internal.atomic import PendingWrite, file_sha256

# The threads of the jobs running in this process.
_RUNNING = set()


def wait_for_all():
    """Returns when no job of any `BackgroundWrites` runs in this process
    (their errors stay with their owners)."""
    for thread in list(_RUNNING):
        thread.join()


class BackgroundWrites:
    """Runs jobs one after another, in a thread (or at once, `enabled=False`).

    Example:

    >>> writes = BackgroundWrites()
    >>> writes.submit(lambda: commit(files))  # waits for the job before
    >>> writes.wait()  # the job is done; its exception, if any, raised here
    """

    def __init__(self, enabled=True):
        self.enabled = enabled
        self._thread = None
        self._error = None

    @property
    def busy(self):
        """Whether a job is still running."""
        return self._thread is not None and self._thread.is_alive()

    def submit(self, job):
        """Waits for the job before (raising its error), then starts `job`."""
        self.wait()
        if not self.enabled:
            job()
            return
        # Not a daemon: the interpreter waits for a write at exit.
        self._thread = threading.Thread(
            target=self._run, args=(job,), name="keras-recipes-writes"
        )
        _RUNNING.add(self._thread)
        self._thread.start()

    def wait(self):
        """Returns when no job runs; raises the exception of the last job."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        error, self._error = self._error, None
        if error is not None:
            raise error

    def __getstate__(self):
        # A copy (KerasTuner deep-copies the callbacks of each trial) takes
        # no thread: the job finishes first; its error stays with this one.
        if self._thread is not None:
            self._thread.join()
        return {"enabled": self.enabled, "_thread": None, "_error": None}

    def _run(self, job):
        try:
            job()
        except BaseException as error:  # Raised on the training thread.
            self._error = error
        finally:
            _RUNNING.discard(threading.current_thread())


def write_pending(path, write, expected_size=None):
    """`write(tmp)` on this thread to a temporary file of `path` (the free
    space checked first, see `atomic.atomic_path`): a `PendingWrite` for
    `commit_all`. On failure nothing is left, and an `OSError` names
    `path`."""
    pending = PendingWrite(path, expected_size)
    with pending.discarding():
        write(pending.tmp)
    return pending


def write_model(model, path, weights_only=False, expected_size=None):
    """`write_pending` of Keras's `model.save` (`save_weights` with
    `weights_only`), on this thread: Keras's public writer, so the file is
    whatever that Keras release writes and loads."""
    name = "save_weights" if weights_only else "save"
    return write_pending(path, getattr(model, name), expected_size)


def commit_all(writes):
    """Puts each `PendingWrite` in place, in order, and returns the `size`
    and `sha256` of each file written (on a worker, of its private copy).
    On failure the ones not in place are discarded."""
    done = []
    try:
        for write in writes:
            done.append(
                {"size": os.path.getsize(write.tmp), "sha256": file_sha256(write.tmp)}
            )
            write.commit()
    except BaseException:
        for write in writes:  # Those in place have no temporary file left.
            write.discard()
        raise
    return done
