"""A `keras-recipes tune` worker that dies with SIGKILL in its first trial.

Run as `python tests/tune_worker_child.py TUNE_ARGS...`: the process kills
itself at the end of its first epoch (after the epoch's heartbeat), at the
same point every time, and never reports the trial.
"""

import os
import signal
import sys

from keras_recipes.commands.tune import main
from keras_recipes.tuning import tuners

beat = tuners._TrialRecord.on_epoch_end


def beat_then_die(self, epoch, logs=None):
    beat(self, epoch, logs)
    os.kill(os.getpid(), signal.SIGKILL)


tuners._TrialRecord.on_epoch_end = beat_then_die
sys.exit(main(sys.argv[1:]))
