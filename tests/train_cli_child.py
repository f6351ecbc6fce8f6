"""`keras-recipes train` in a process that kills itself with SIGKILL.

Run as `python tests/train_cli_child.py TRAIN_ARGS...`. With KILL_AT_EPOCH=k
the process dies right after `ResumableBackup` committed the backup of epoch
k (0-based, written at that epoch's start): injected at the write, not timed.
"""

import os
import signal
import sys

from keras_recipes.callbacks.resumable_backup import ResumableBackup
from keras_recipes.commands.train import main

KILL_AT = os.environ.get("KILL_AT_EPOCH")
if KILL_AT is not None:
    save = ResumableBackup._save

    def save_then_die(self, epoch):
        save(self, epoch)
        if epoch == int(KILL_AT):
            self._writes.wait()  # Committed (in the background by default).
            os.kill(os.getpid(), signal.SIGKILL)

    ResumableBackup._save = save_then_die

sys.exit(main(sys.argv[1:]))
