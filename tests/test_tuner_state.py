"""KerasTuner's own state, written atomically and read back checked.

KerasTuner 1.4.8 writes `oracle.json`, `trial.json`, `tuner0.json`,
`build_config.json` and the trial checkpoint in place: a kill inside one of
those writes left the search unresumable. These tests kill the search inside
each write (at the write itself, not by timing), rerun it to completion and
check that every finished trial is kept; and tear the files by hand to check
the fall-back to the previous copy and the error without one.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from keras_recipes._internal.atomic import StateFileError
from keras_recipes.tuning import search

pytestmark = pytest.mark.backend_independent

ROOT = Path(__file__).resolve().parents[1]
SPACE = {
    "hidden_layers": [1],
    "units": [8, 16, 32],
    "batch_norm": False,
    "dropout": [0.0, 0.1],
    "batch_size": [32],
}


def run_search(directory, max_trials=3):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    return search(
        x[:64],
        y[:64],
        validation_data=(x[64:], y[64:]),
        space=SPACE,
        max_trials=max_trials,
        epochs=1,
        directory=directory,
        project_name="search",
        seed=1,
        verbose=0,
        progress=False,
    )


def finished_trials(directory):
    trials = {}
    for path in (Path(directory) / "search").glob("trial_*/trial.json"):
        state = json.loads(path.read_text())
        if state["status"] == "COMPLETED":
            trials[state["trial_id"]] = state["score"]
    return trials


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "oracle.json",
        "trial.json",
        "tuner0.json",
        "build_config.json",
        "checkpoint.weights.h5",
    ],
)
def test_a_kill_inside_each_keras_tuner_write_loses_no_finished_trial(tmp_path, name):
    child = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "tuner_kill_child.py"), tmp_path, name],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert child.returncode == 9, child.stderr[-3000:]  # killed in the write
    torn = list((tmp_path / "search").rglob(".tmp-keras-recipes-*"))
    assert torn, "the kill should leave a torn temporary file"
    before = finished_trials(tmp_path)
    assert "0" in before
    result = run_search(tmp_path)
    after = finished_trials(tmp_path)
    assert len(after) == 3
    for trial_id, score in before.items():
        assert after[trial_id] == score  # kept, not run again
    assert sorted(row["status"] for row in result.trials) == ["COMPLETED"] * 3
    assert not list((tmp_path / "search").rglob(".tmp-keras-recipes-*"))


@pytest.fixture(scope="module")
def two_trials(tmp_path_factory):
    directory = tmp_path_factory.mktemp("state")
    run_search(directory, max_trials=2)
    return directory


@pytest.mark.parametrize("relative", ["oracle.json", "trial_0/trial.json"])
@pytest.mark.slow
def test_a_torn_state_file_falls_back_to_its_previous_copy(
    two_trials, tmp_path, relative
):
    import shutil

    directory = tmp_path / "copy"
    shutil.copytree(two_trials, directory)
    path = directory / "search" / relative
    assert path.with_name(path.name + ".prev").exists()
    path.write_text(path.read_text()[: len(path.read_text()) // 2])
    with pytest.warns(UserWarning, match=f"{path.name}.*previous copy"):
        result = run_search(directory, max_trials=3)
    assert len(finished_trials(directory)) == 3
    assert len(result.trials) == 3


@pytest.mark.parametrize(
    "relative, fix",
    [
        ("oracle.json", "overwrite=True"),
        ("trial_0/trial.json", "Delete the trial's folder"),
        ("tuner0.json", "Delete it"),
    ],
)
def test_a_torn_state_file_without_a_good_copy_names_the_file_and_the_fix(
    two_trials, tmp_path, relative, fix
):
    import shutil

    directory = tmp_path / "copy"
    shutil.copytree(two_trials, directory)
    path = directory / "search" / relative
    path.write_text('{"trials": ')
    path.with_name(path.name + ".prev").unlink(missing_ok=True)
    with pytest.raises(StateFileError, match=f"{path}.*not valid JSON.*{fix}"):
        run_search(directory, max_trials=3)
