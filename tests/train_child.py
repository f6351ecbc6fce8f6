"""A training process for the fault-injection and resume tests.

Run as `python tests/train_child.py MODE WORKDIR [GO_FILE]`; the tests start
it, kill it with SIGKILL and start it again over the same WORKDIR. With
GO_FILE it imports everything, then waits for that file to exist (so that
the tests can start the next process while the current one trains).

checkpoint: trains until killed with `BestCheckpoint`; the monitored `score`
    is a scripted value per epoch (some NaN). `events.log` gets
    "S epoch value checksum" before the checkpoint's save and "E epoch" once
    it is committed.
resume: trains a small regression with OneCycle, EarlyStopping,
    BestCheckpoint and ResumableBackup; with KILL_AT=epoch,batch it kills
    itself there. Writes `lr.log` (epoch, learning rate) and, when training
    ends, `final.npz` (weights) and `final.json`.
"""

import json
import math
import os
import signal
import sys
import time
from pathlib import Path

import keras
import numpy as np

import keras_recipes as kr
from keras_recipes._internal.background import wait_for_all


def checksum(model):
    return float(
        sum(np.abs(np.asarray(w, dtype="float64")).sum() for w in model.weights)
    )


def scripted_score(epoch):
    rng = np.random.default_rng(epoch)
    return math.nan if rng.random() < 0.15 else float(rng.uniform(0.1, 1.0))


class Events(keras.callbacks.Callback):
    def __init__(self, path, phase):
        super().__init__()
        self.path, self.phase = path, phase

    def on_epoch_end(self, epoch, logs=None):
        if self.phase == "S":
            logs["score"] = scripted_score(epoch + 1)
            line = f"S {epoch + 1} {logs['score']!r} {checksum(self.model)!r}\n"
        else:
            # Once the save is committed (its fsync, rename and manifest run
            # in a background thread, where the kill may land too).
            wait_for_all()
            line = f"E {epoch + 1}\n"
        with open(self.path, "a") as f:
            f.write(line)


def run_checkpoint(workdir):
    events = workdir / "events.log"
    done = [int(line.split()[1]) for line in events.read_text().splitlines()
            if line.startswith("E")] if events.exists() else []  # fmt: skip
    start = max(done, default=0)
    keras.utils.set_random_seed(start)
    model = keras.Sequential(
        [keras.Input((256,)), keras.layers.Dense(512), keras.layers.Dense(512),
         keras.layers.Dense(1)]
    )  # fmt: skip
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="mse")
    x = np.random.default_rng(0).normal(size=(32, 256)).astype("float32")
    y = np.zeros((32, 1), "float32")
    checkpoint = kr.BestCheckpoint(workdir / "ckpt" / "best.keras", "score", "min")
    model.fit(
        x, y, batch_size=16, epochs=10_000, initial_epoch=start, verbose=0,
        callbacks=[Events(events, "S"), checkpoint, Events(events, "E")],
    )  # fmt: skip


class KillAt(keras.callbacks.Callback):
    def __init__(self, epoch, batch):
        super().__init__()
        self.epoch, self.batch, self.current = epoch, batch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.current, batch) == (self.epoch, self.batch):
            os.kill(os.getpid(), signal.SIGKILL)


class LogLearningRate(keras.callbacks.Callback):
    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        with open(self.path, "a") as f:
            f.write(json.dumps([epoch + 1, logs["learning_rate"]]) + "\n")


def run_resume(workdir):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0], "float32"))[:, None]
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="mse")
    stopper = kr.EarlyStopping("val_loss", patience=2, min_delta=1e-3)
    callbacks = [
        kr.OneCycle(0.05),
        stopper,
        kr.BestCheckpoint(workdir / "ckpt" / "best.keras"),
        LogLearningRate(workdir / "lr.log"),
        kr.ResumableBackup(workdir / "backup", callbacks={"stopper": stopper}),
    ]
    if os.environ.get("KILL_AT"):
        epoch, batch = (int(v) for v in os.environ["KILL_AT"].split(","))
        callbacks.append(KillAt(epoch, batch))
    model.fit(
        x, y, batch_size=8, epochs=40, shuffle=False, validation_split=0.25,
        verbose=0, callbacks=callbacks,
    )  # fmt: skip
    np.savez(workdir / "final.npz", *[w.numpy() for w in model.weights])
    (workdir / "final.json").write_text(
        json.dumps({"stopped_epoch": stopper.stopped_epoch,
                    "stopped_reason": stopper.stopped_reason,
                    "best_epoch": stopper.best_epoch})
    )  # fmt: skip


if __name__ == "__main__":
    mode, workdir = sys.argv[1], Path(sys.argv[2])
    if len(sys.argv) > 3:  # Imports done: wait for the test's go-ahead.
        go = Path(sys.argv[3])
        while not go.exists():
            time.sleep(0.005)
    workdir.mkdir(parents=True, exist_ok=True)
    {"checkpoint": run_checkpoint, "resume": run_resume}[mode](workdir)
