"""Distributed search on loopback: one chief and two workers, real processes.

The recipe runs in each role (`recipes/tune_mlp.py --tuner-id ...`), with
KerasTuner's own chief/worker mode (a gRPC oracle on 127.0.0.1).
"""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from tests.conftest import free_port
from tests.tensorboard_events import read_hparams, run_folders

# KerasTuner's gRPC coordination and the recipe's roles; every backend's
# per-trial logs are checked in-process by test_tuning.py.
pytestmark = pytest.mark.backend_independent

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 300


def start(tuner_id, log_dir, port, output, script=None, flags=()):
    command = [
        sys.executable,
        str(script or ROOT / "recipes" / "tune_mlp.py"),
        *flags,
        "--smoke",
        "--log-dir",
        str(log_dir),
        "--tuner-id",
        tuner_id,
        "--oracle-ip",
        "127.0.0.1",
        "--oracle-port",
        str(port),
    ]
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend())
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_together(tmp_path, roles):
    """Starts `{name: (tuner_id[, start's keywords])}` in that order over one
    shared folder and waits for all; returns their exit codes and logs."""
    port = free_port()
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in roles}
    processes = {}
    try:
        for name, (tuner_id, *keywords) in roles.items():
            processes[name] = start(
                tuner_id, tmp_path / "shared", port, logs[name], **dict(*keywords)
            )
        codes = {name: p.wait(timeout=TIMEOUT) for name, p in processes.items()}
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
        for log in logs.values():
            log.close()
    return codes, {name: (tmp_path / f"{name}.log").read_text() for name in logs}


@pytest.mark.slow
def test_one_chief_and_two_workers_complete_a_search_together(tmp_path):
    log_dir = tmp_path / "shared"
    # Workers first: they wait for the chief's oracle to come up.
    codes, output = run_together(
        tmp_path, {"w0": ("tuner0",), "w1": ("tuner1",), "c": ("chief",)}
    )
    assert codes == {"w0": 0, "w1": 0, "c": 0}, output
    assert "worker tuner0 done" in output["w0"]
    assert "worker tuner1 done" in output["w1"]
    assert "test accuracy:" in output["c"]

    # Every trial is recorded once, completed, run by a worker, with its logs.
    with open(log_dir / "search" / "summary.csv") as file:
        rows = list(csv.DictReader(file))
    ids = [row["trial_id"] for row in rows]
    assert len(rows) == 4 and len(set(ids)) == 4
    assert {row["status"] for row in rows} == {"COMPLETED"}
    assert {row["tuner_id"] for row in rows} <= {"tuner0", "tuner1"}
    runs = run_folders(log_dir / "tensorboard")
    for trial in ids:
        assert {f"{trial}/execution0/train", f"{trial}/execution0/validation"} <= set(
            runs
        )
        session = read_hparams(log_dir / "tensorboard" / trial / "execution0")
        assert session["group_name"] == trial and session["session_count"] == 1
    # The chief's summary names the best trial's model, and each process
    # wrote its own arguments.
    metrics = json.loads((log_dir / "metrics.json").read_text())
    assert metrics["trials"] == 4 and 0 <= metrics["test_accuracy"] <= 1
    assert (log_dir / "search" / "best_model.keras").exists()
    for name in ("args.json", "args-tuner0.json", "args-tuner1.json"):
        assert (log_dir / name).exists()


@pytest.mark.slow
def test_a_worker_killed_mid_trial_does_not_hang_the_chief(tmp_path):
    # tuner1 dies with SIGKILL at the end of its first epoch and is never
    # restarted; the chief fails its trial after 15 s of silence, tuner0
    # runs the others, and the chief writes the summary.
    log_dir = tmp_path / "shared"
    dying = {"script": ROOT / "tests" / "tune_worker_child.py"}
    timeout = {"flags": ("--trial-timeout", "15")}
    codes, output = run_together(
        tmp_path,
        {"w0": ("tuner0",), "w1": ("tuner1", dying), "c": ("chief", timeout)},
    )
    assert codes == {"w0": 0, "w1": -9, "c": 0}, output
    with open(log_dir / "search" / "summary.csv") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 4, output["c"]
    failed = [row for row in rows if row["status"] == "FAILED"]
    assert len(failed) == 1, rows
    assert "worker tuner1 gave no sign of life" in failed[0]["message"]
    assert "trial_timeout: 15 s" in failed[0]["message"]
    assert {row["status"] for row in rows if row not in failed} == {"COMPLETED"}
    assert f"[chief] trial {failed[0]['trial_id']}: worker tuner1" in output["c"]
    assert "3/4 trials completed" in output["c"] and "test accuracy:" in output["c"]
