"""`keras-recipes train --resume` after a SIGKILL equals an uninterrupted run,
and a run folder is never reused by accident.

The child (`tests/train_cli_child.py`) kills itself right after the backup
of epoch 2's start is written, so the kill lands at the same point each time.
"""

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_recipes.commands import train

# The command's wiring (ResumableBackup's restores are tested on every
# backend in test_crash_safety.py).
pytestmark = [pytest.mark.slow, pytest.mark.backend_independent]

ROOT = Path(__file__).resolve().parents[1]
CHILD = ROOT / "tests" / "train_cli_child.py"


def train_process(log_dir, *flags, kill_at=None):
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend())
    env.pop("KILL_AT_EPOCH", None)
    if kill_at is not None:
        env["KILL_AT_EPOCH"] = str(kill_at)
    return subprocess.run(
        [sys.executable, str(CHILD), "--smoke", "--log-dir", str(log_dir), *flags],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def rows(path):
    with open(path, newline="") as file:
        return list(csv.reader(file))


def best_weights(log_dir):
    manifest = json.loads((log_dir / "best" / "checkpoints.json").read_text())
    model = keras.models.load_model(log_dir / "best" / manifest["best"]["path"])
    return manifest["best"]["epoch"], [w.numpy() for w in model.weights]


def test_resume_after_sigkill_equals_an_uninterrupted_run(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert train_process(whole).returncode == 0
    died = train_process(killed, kill_at=1)
    assert died.returncode == -signal.SIGKILL, died.stderr[-2000:]
    assert (killed / "backup" / "state.json").is_file()
    assert not (killed / "metrics.json").exists()
    resumed = train_process(killed, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "learning rate of the run resumed" in resumed.stdout  # No new sweep.
    assert "Epoch 2/2" in resumed.stdout and "Epoch 1/2" not in resumed.stdout
    # The same epochs, values and model, to the last bit.
    assert rows(killed / "history.csv") == rows(whole / "history.csv")
    (epoch, weights), (whole_epoch, whole_weights) = (
        best_weights(killed), best_weights(whole)
    )  # fmt: skip
    assert epoch == whole_epoch
    for a, b in zip(weights, whole_weights, strict=True):
        np.testing.assert_array_equal(a, b)
    metrics = json.loads((killed / "metrics.json").read_text())
    reference = json.loads((whole / "metrics.json").read_text())
    assert metrics["resumed"] and not reference["resumed"]
    for key in ("test_loss", "test_accuracy", "learning_rate", "epochs_run"):
        assert metrics[key] == reference[key], key
    assert not (killed / "backup").exists()  # Removed once done.


def run_in_process(argv, capsys):
    status = train.main(argv)
    return status, capsys.readouterr().err


def test_a_folder_with_a_run_is_refused_before_anything_is_written(tmp_path, capsys):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "args.json").write_text("{}")
    (folder / "history.csv").write_text("epoch,loss\n0,1.0\n")
    before = sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir())
    with pytest.raises(SystemExit) as exit:
        train.main(["--smoke", "--log-dir", str(folder)])
    assert exit.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.endswith(
        f"error: --log-dir {folder} holds an earlier run; pass --resume to "
        "continue it, --overwrite to delete it and start over, or choose another "
        "folder"
    )
    assert sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir()) == before


@pytest.mark.parametrize(
    "files, flags, message",
    [
        ({}, ["--resume"], r"holds no run to continue \(no args.json\)"),
        ({"args.json": "{}", "metrics.json": "{}"}, ["--resume"],
         r"the run in .* finished \(metrics.json\); there is nothing to continue"),
        ({"args.json": json.dumps({"epochs": 4, "seed": 0})},
         ["--resume", "--seed", "3"],
         r"--seed 3 differs from the run's 0. Leave it out, or --overwrite"),
        ({"args.json": "{"}, ["--resume"], r"args.json is not valid JSON"),
        ({"args.json": "[1]"}, ["--resume"], r"args.json holds a list, not the run"),
        ({"notes.txt": "mine"}, ["--overwrite"],
         r"is not empty and holds no run \(no args.json\); choose a new"),
    ],
)  # fmt: skip
def test_resume_refuses_what_it_cannot_continue(
    tmp_path, capsys, files, flags, message
):
    folder = tmp_path / "run"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    with pytest.raises(SystemExit) as exit:
        train.main(["--log-dir", str(folder), *flags])
    assert exit.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert __import__("re").search(message, error), error
    assert sorted(p.name for p in folder.iterdir()) == sorted(files)


def test_resume_and_overwrite_exclude_each_other(tmp_path, capsys):
    with pytest.raises(SystemExit):
        train.main(["--log-dir", str(tmp_path), "--resume", "--overwrite"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_overwrite_deletes_the_earlier_run_first(tmp_path):
    from argparse import Namespace

    from keras_recipes.runs import start_run

    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "args.json").write_text("{}")
    (folder / "metrics.json").write_text("{}")
    args = Namespace(log_dir=folder, seed=0, resume=False, overwrite=True)
    assert start_run(args, "train") == folder
    assert sorted(p.name for p in folder.iterdir()) == ["args.json"]
    assert json.loads((folder / "args.json").read_text())["overwrite"] is True


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"learning_rate": -1}', r"`learning_rate` must be a positive number, got -1"),
        ('{"learning_rate": "fast"}', r"must be a positive number, got 'fast'"),
        ("[0.01]", r"must be a positive number, got None"),
        ('{"learning_rate": 0.0', r"is not valid JSON"),
    ],
)
def test_the_chosen_rate_is_checked_when_a_run_resumes(tmp_path, text, message):
    from keras_recipes._internal.atomic import StateFileError
    from keras_recipes.runs import read_chosen_rate

    path = tmp_path / "learning_rate.json"
    path.write_text(text)
    with pytest.raises(StateFileError, match=message + r".*--resume then runs"):
        read_chosen_rate(path)
    assert read_chosen_rate(tmp_path / "none.json") is None
