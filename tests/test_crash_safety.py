"""Kill -9 a training process at random moments: nothing may be lost.

The child process is `tests/train_child.py`; see its docstring.
"""

import json
import math
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

CHILD = Path(__file__).with_name("train_child.py")
ROOT = CHILD.parents[1]


def start(mode, workdir, *extra, **env):
    return subprocess.Popen(
        [sys.executable, str(CHILD), mode, str(workdir), *map(str, extra)],
        cwd=ROOT, env={**os.environ, **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def read_events(workdir):
    path = workdir / "events.log"
    lines = path.read_text().splitlines() if path.exists() else []
    started, completed = {}, set()
    for line in lines:
        parts = line.split()
        if parts[0] == "S" and len(parts) == 4:
            started[int(parts[1])] = (float(parts[2]), float(parts[3]))
        elif parts[0] == "E":
            completed.add(int(parts[1]))
    return started, completed, lines


def epoch_checksums(workdir):
    """Epoch -> the weights' checksum of every run that began it."""
    checksums = {}
    for line in read_events(workdir)[2]:
        parts = line.split()
        if parts[0] == "S" and len(parts) == 4:
            checksums.setdefault(int(parts[1]), []).append(float(parts[3]))
    return checksums


def wait_for(condition, process, timeout=120):
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(process.stderr.read().decode()[-3000:])
        if time.monotonic() > deadline:
            raise AssertionError("the child made no progress")
        time.sleep(0.001)


def epochs_completed_beyond(workdir, count):
    return lambda: len(read_events(workdir)[1]) > count


def save_started_after(workdir, count):
    def started():
        lines = read_events(workdir)[2]
        return len(lines) > count and lines[-1].startswith("S")

    return started


def check_consistent(workdir):
    """The manifest's best loads, is the epoch it claims, and is the best."""
    started, completed, _ = read_events(workdir)
    finite_done = {e: started[e][0] for e in completed if math.isfinite(started[e][0])}
    manifest_path = workdir / "ckpt" / "checkpoints.json"
    if not manifest_path.exists():
        assert not finite_done
        return
    best = json.loads(manifest_path.read_text())["best"]
    in_progress = set(started) - completed
    candidates = dict(finite_done)
    for epoch in in_progress:  # killed between its save and its "E" line
        if math.isfinite(started[epoch][0]):
            candidates[epoch] = started[epoch][0]
    assert best["epoch"] in candidates
    assert best["value"] == started[best["epoch"]][0]
    assert best["value"] <= min(finite_done.values(), default=math.inf)
    assert best["value"] == min(
        v for e, v in candidates.items() if e in finite_done or e == best["epoch"]
    )
    model = keras.models.load_model(manifest_path.parent / best["path"])  # safe
    total = sum(np.abs(np.asarray(w, dtype="float64")).sum() for w in model.weights)
    # An epoch killed after its "S" line is run again by the next process
    # (from fresh weights, with the same scripted score): the file is the one
    # of the run that saved it, whichever of them that was (a later run with
    # the same score does not overwrite the manifest's best).
    assert any(
        total == pytest.approx(checksum, rel=1e-9)
        for checksum in epoch_checksums(workdir)[best["epoch"]]
    )


@pytest.mark.backend_independent  # atomic file writes: the same on every backend
@pytest.mark.slow
def test_best_checkpoint_survives_sigkill_at_random_moments(tmp_path):
    rng = random.Random(0)
    kills_during_save = 0
    workdir = tmp_path / "run"
    # Each process waits for its go file once imported: the next one loads
    # while the current one trains.
    child = start("checkpoint", workdir, tmp_path / "go0")
    waiting = None
    try:
        for attempt in range(12):  # 6 aimed at a save, 6 at random moments
            _, completed_before, _ = read_events(workdir)
            (tmp_path / f"go{attempt}").touch()
            waiting = start("checkpoint", workdir, tmp_path / f"go{attempt + 1}")
            try:
                # Let it finish at least one epoch in this run.
                wait_for(epochs_completed_beyond(workdir, len(completed_before)), child)
                if attempt % 2 == 0:
                    # Kill as soon as the next save starts ("S" written, no "E").
                    wait_for(
                        save_started_after(workdir, len(read_events(workdir)[2])),
                        child,
                    )
                else:
                    time.sleep(rng.uniform(0, 0.3))
            finally:
                child.kill()
                child.wait()
            _, _, lines = read_events(workdir)
            kills_during_save += lines[-1].startswith("S")
            check_consistent(workdir)
            child = waiting
    finally:
        # A failed check leaves no process behind (the next one waits for
        # its go file for ever).
        for process in (child, waiting):
            if process is not None:
                process.kill()
                process.wait()
    assert kills_during_save >= 5
    # Killed writes leave temporary files; the next run removes them.
    from keras_recipes._internal.atomic import PREFIX, remove_stale

    remove_stale(workdir / "ckpt")
    assert not list((workdir / "ckpt").glob(f"{PREFIX}*"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run of the resume child, shared by the kill points."""
    workdir = tmp_path_factory.mktemp("uninterrupted")
    child = start("resume", workdir)
    _, err = child.communicate(timeout=300)
    assert child.returncode == 0, err.decode()[-3000:]
    return workdir


@pytest.mark.parametrize("kill_at", ["2,0", "3,2"])  # epoch start, mid-epoch
@pytest.mark.slow
def test_killed_run_resumes_to_the_same_model(tmp_path, reference, kill_at):
    resumed = tmp_path / "resumed"
    child = start("resume", resumed, KILL_AT=kill_at)
    _, err = child.communicate(timeout=300)
    assert child.returncode == -9, err.decode()[-3000:]
    assert not (resumed / "final.json").exists()
    assert (resumed / "backup" / "state.json").exists()
    child = start("resume", resumed)
    _, err = child.communicate(timeout=300)
    assert child.returncode == 0, err.decode()[-3000:]

    final = [json.loads((d / "final.json").read_text()) for d in (reference, resumed)]
    assert final[0] == final[1] and final[0]["stopped_reason"] == "patience"
    a, b = np.load(reference / "final.npz"), np.load(resumed / "final.npz")
    for key in a.files:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-6, atol=1e-7)

    def learning_rates(workdir):
        rates = {}
        for line in (workdir / "lr.log").read_text().splitlines():
            epoch, rate = json.loads(line)
            rates[epoch] = rate  # the replayed epoch's last record wins
        return rates

    assert learning_rates(reference) == pytest.approx(learning_rates(resumed), rel=1e-6)
    assert not (resumed / "backup" / "state.json").exists()  # deleted at the end
