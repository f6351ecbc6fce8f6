"""How long a save holds the training thread: the savers' epoch hooks, timed.

Usage:
    KERAS_BACKEND=jax python benchmarks/save_hook_time.py --repeats 5

On the 1.3M-parameter MLP with Adam (a 16 MB save), `monitor="loss"` so that
every epoch saves: the time spent inside `BestCheckpoint.on_epoch_end` and
`ResumableBackup.on_epoch_begin` (where each save is made), with
`save_on_background=True` (the state copied, Keras's file written in the
background) and `False` (all of it on the training thread), interleaved in one
process; median and min-max over the saves. What the background thread then
costs depends on whether training leaves a core free (docs/benchmarks.md).
"""

import argparse
import statistics
import tempfile
import time

import keras
import numpy as np

import keras_recipes as kr


def timed(callback, hook):
    """Records the seconds spent in `callback.hook` (on the training thread)."""
    original = getattr(callback, hook)
    times = []

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        original(*args, **kwargs)
        times.append(time.perf_counter() - start)

    setattr(callback, hook, wrapper)
    return times


def model_1m():
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(1024, activation="relu"),
            keras.layers.Dense(512, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(keras.optimizers.Adam(1e-3), loss)
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2048, 784)).astype("float32")
    # Labels a linear map of the inputs: the loss falls every epoch, so
    # every epoch saves a new best.
    y = np.argmax(x @ rng.normal(size=(784, 10)), axis=1)
    results = {}
    for _ in range(args.repeats):
        for background in (True, False):
            for name in ("BestCheckpoint", "ResumableBackup"):
                folder = tempfile.mkdtemp()
                if name == "BestCheckpoint":
                    callback = kr.BestCheckpoint(
                        f"{folder}/best.keras", monitor="loss",
                        save_on_background=background,
                    )  # fmt: skip
                    times = timed(callback, "on_epoch_end")
                else:
                    callback = kr.ResumableBackup(folder, save_on_background=background)
                    times = timed(callback, "on_epoch_begin")
                model = model_1m()
                fit = {"batch_size": 64, "epochs": 5, "verbose": 0}
                model.fit(x, y, callbacks=[callback], **fit)
                # ResumableBackup saves from the second epoch's start on.
                saves = times[1:] if name == "ResumableBackup" else times
                # BestCheckpoint saves only a new best: the loss must fall
                # at every epoch for every hook call to time a save.
                losses = model.history.history["loss"]
                if any(b >= a for a, b in zip(losses[:-1], losses[1:], strict=True)):
                    raise RuntimeError(f"an epoch did not save a new best: {losses}")
                key = (name, background)
                results.setdefault(key, []).extend(saves[1:])  # after a warm-up save
    print(f"backend {keras.backend.backend()}, {args.repeats} repeats, ms per save")
    print("| callback | save_on_background=True | False | ratio |")
    print("|---|---|---|---|")
    for name in ("BestCheckpoint", "ResumableBackup"):
        cells = []
        for background in (True, False):
            ms = [1000 * t for t in results[(name, background)]]
            cells.append((statistics.median(ms), min(ms), max(ms)))
        (a, a0, a1), (b, b0, b1) = cells
        print(
            f"| {name} | {a:.1f} ({a0:.1f}-{a1:.1f}) | {b:.1f} ({b0:.1f}-{b1:.1f}) "
            f"| {a / b:.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
