"""A search that kills itself inside one of KerasTuner's state writes.

Run as `python tests/tuner_kill_child.py DIRECTORY NAME`. Once trial 0 has
finished, the first write of a file called NAME (`oracle.json`,
`trial.json`, `tuner0.json`, `build_config.json`, `checkpoint.weights.h5`)
is torn: its temporary file is cut to half its size, then the process ends
with `os._exit(9)`, as a SIGKILL in the middle of the write would leave it.
`tests/test_tuner_state.py` reruns the search over the same folder.
"""

import json
import os
import sys
from pathlib import Path

from keras_recipes._internal import atomic
from tests.test_tuner_state import run_search

directory, name = Path(sys.argv[1]), sys.argv[2]
fsync = atomic._fsync_file


def trial_0_finished():
    path = directory / "search" / "trial_0" / "trial.json"
    return path.exists() and json.loads(path.read_text())["status"] == "COMPLETED"


def torn_fsync(tmp):
    target = Path(tmp).name.removeprefix(atomic.PREFIX)
    stem, suffix = name.split(".", 1)
    if target.startswith(stem + ".") and target.endswith(suffix):
        if trial_0_finished():
            size = os.path.getsize(tmp)
            os.truncate(tmp, size // 2)
            os._exit(9)
    fsync(tmp)


atomic._fsync_file = torn_fsync
run_search(directory)
