"""Epoch-time overhead of the scheduling callbacks in `model.fit`.

Times `model.fit` of a small MLP on scikit-learn's digits with each scheduling
callback of `keras_recipes` and compares it with the same fit without one. The
goal is at most 1.05x the epoch time of the fit without a callback.

Method:
    * A fresh model (same seed) is built and compiled for every measurement:
      64 -> Dense(128, relu) -> Dense(128, relu) -> Dense(10, softmax),
      SGD(learning_rate=0.01, momentum=0.9), sparse categorical crossentropy,
      batch size 32 (57 steps per epoch on the 1,797 digits).
    * Each epoch is timed with `time.perf_counter` by a callback placed first
      (`on_epoch_begin`) and one placed last (`on_epoch_end`), so the epoch
      hooks of the callback under test are inside the timed interval. They
      have no batch hooks, so they leave Keras's async dispatch as it is.
    * The first epoch of every fit is dropped (tracing and compilation, and
      the callbacks' one rebuild of the train function before the first
      step); a fit's time is the median of its other epochs.
    * Runs are interleaved: every repeat measures every variant once, in an
      order shuffled by a seeded RNG. A variant's ratio in a repeat is its
      time over the baseline's time in the same repeat; the table gives the
      median of those ratios over the repeats and their min-max range.
    * "baseline (A/A check)" is a second fit without a callback, timed like
      the others: its ratio shows the noise of the measurement.
    * "naive per-batch Python LR" is not part of `keras_recipes`: it sets
      `self.model.optimizer.learning_rate` from Python in
      `on_train_batch_begin`, as user code often does, for comparison.

Usage:
    KERAS_BACKEND=jax python benchmarks/scheduling_overhead.py --repeats 7
    KERAS_BACKEND=tensorflow python benchmarks/scheduling_overhead.py \\
        --repeats 7 --epochs 6 --backend-note --output /tmp/tf.md
    # Diagnostic: 10x longer epochs (per-epoch costs amortized).
    KERAS_BACKEND=jax python benchmarks/scheduling_overhead.py --tile 10

The Keras backend is chosen with the `KERAS_BACKEND` environment variable.
The Markdown table goes to stdout (and to `--output FILE` if given); progress
goes to stderr.
"""

import argparse
import math
import os
import platform
import random
import statistics
import sys
import time

import keras
import numpy as np

import keras_recipes as kr

BATCH_SIZE = 32
LEARNING_RATE = 0.01
GOAL = 1.05
BASELINE = "no callback (baseline)"


class _StartClock(keras.callbacks.Callback):
    """Records the start of every epoch (placed first in the callbacks)."""

    def __init__(self, clock):
        super().__init__()
        self.clock = clock

    def on_epoch_begin(self, epoch, logs=None):
        self.clock["start"] = time.perf_counter()


class _StopClock(keras.callbacks.Callback):
    """Records the length of every epoch (placed last in the callbacks)."""

    def __init__(self, clock):
        super().__init__()
        self.clock = clock

    def on_epoch_end(self, epoch, logs=None):
        self.clock["epochs"].append(time.perf_counter() - self.clock["start"])


class NaivePerBatchLearningRate(keras.callbacks.Callback):
    """Power decay set from Python before every batch: the naive alternative.

    What `keras.callbacks.LearningRateScheduler` does per epoch, done per
    batch, as users commonly write it. Not part of `keras_recipes`.
    """

    def __init__(self, initial_learning_rate=LEARNING_RATE):
        super().__init__()
        self.initial_learning_rate = initial_learning_rate
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        steps = self.params["steps"]
        step = self._epoch * steps + batch
        value = self.initial_learning_rate / (1 + step / steps)
        self.model.optimizer.learning_rate = value


# Variant name -> function returning the callbacks under test (fresh each fit).
VARIANTS = {
    BASELINE: lambda: [],
    "baseline (A/A check)": lambda: [],
    "OneCycle(max_learning_rate=0.05)": lambda: [kr.OneCycle(max_learning_rate=0.05)],
    "PowerScheduling(decay_epochs=1)": lambda: [kr.PowerScheduling(decay_epochs=1)],
    "ExponentialScheduling(decay_epochs=2)": lambda: [
        kr.ExponentialScheduling(decay_epochs=2)
    ],
    "PiecewiseConstantScheduling([1, 2], [0.01, 0.005, 0.001])": lambda: [
        kr.PiecewiseConstantScheduling([1, 2], [0.01, 0.005, 0.001])
    ],
    'PerformanceScheduling(monitor="loss", patience=1)': lambda: [
        kr.PerformanceScheduling(monitor="loss", patience=1)
    ],
    "naive per-batch Python LR (not ours)": lambda: [NaivePerBatchLearningRate()],
}
# Variants that are not `keras_recipes` callbacks (no verdict on the goal).
REFERENCE_VARIANTS = (
    BASELINE,
    "baseline (A/A check)",
    "naive per-batch Python LR (not ours)",
)


def load_data(tile=1):
    """scikit-learn's digits: 1,797 x 64 standardized float32, int32 labels.

    `tile > 1` repeats the samples `tile` times (longer epochs, same work per step).
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = digits.data.astype("float32")
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-7)
    y = digits.target.astype("int32")
    return np.tile(x, (tile, 1)), np.tile(y, tile)


def build_model(seed):
    """A fresh, compiled MLP with the weights of `seed`."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input(shape=(64,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=LEARNING_RATE, momentum=0.9),
        loss="sparse_categorical_crossentropy",
    )
    return model


def time_fit(x, y, callbacks, epochs, seed):
    """Epoch times (seconds) of one `fit` of a fresh model, first one included."""
    model = build_model(seed)
    clock = {"start": None, "epochs": []}
    model.fit(
        x,
        y,
        batch_size=BATCH_SIZE,
        epochs=epochs,
        verbose=0,
        callbacks=[_StartClock(clock), *callbacks, _StopClock(clock)],
    )
    return clock["epochs"]


def run(x, y, repeats, epochs, seed, log=sys.stderr):
    """Per-repeat median epoch time (seconds) of every variant.

    Returns:
        A dict: variant name -> list of `repeats` medians (first epoch of
        each fit excluded).
    """
    rng = random.Random(seed)
    names = list(VARIANTS)
    times = {name: [] for name in names}
    # Untimed warm-up: process-wide initialization (XLA, thread pools).
    time_fit(x, y, [], epochs=2, seed=seed)
    for repeat in range(repeats):
        rng.shuffle(names)
        for name in names:
            epoch_times = time_fit(x, y, VARIANTS[name](), epochs, seed)
            times[name].append(statistics.median(epoch_times[1:]))
        print(f"repeat {repeat + 1}/{repeats} done", file=log, flush=True)
    return times


def summarize(times):
    """Rows of (name, median ms, median ratio, min ratio, max ratio)."""
    baseline = times[BASELINE]
    rows = []
    for name in VARIANTS:
        ratios = [t / b for t, b in zip(times[name], baseline, strict=True)]
        rows.append(
            (
                name,
                1000 * statistics.median(times[name]),
                statistics.median(ratios),
                min(ratios),
                max(ratios),
            )
        )
    return rows


def verdict(name, ratio):
    if name in REFERENCE_VARIANTS:
        return "n/a"
    return "yes" if ratio <= GOAL else "**no**"


def markdown_table(rows):
    lines = [
        "| Variant | Median epoch (ms) | Ratio vs baseline (median) "
        f"| Ratio min-max | Median <= {GOAL}x |",
        "|---|---:|---:|---:|:---:|",
    ]
    for name, ms, ratio, low, high in rows:
        lines.append(
            f"| {name} | {ms:.1f} | {ratio:.3f} | {low:.3f}-{high:.3f} "
            f"| {verdict(name, ratio)} |"
        )
    return "\n".join(lines)


def backend_note(repeats, epochs, steps, tile=1):
    backend = keras.backend.backend()
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend)
    version = __import__(module).__version__ if module else "?"
    tiled = f" (digits tiled {tile}x)" if tile > 1 else ""
    return (
        f"Backend {backend} {version}, Keras {keras.__version__}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPU cores; "
        f"{repeats} repeats x {len(VARIANTS)} variants, {epochs} epochs per fit "
        f"(first dropped), {steps} steps per epoch{tiled}, batch size {BATCH_SIZE}."
    )


def build_parser():
    parser = argparse.ArgumentParser(
        description=(
            "Epoch time of model.fit with each keras_recipes scheduling "
            "callback versus no callback (backend from KERAS_BACKEND)."
        )
    )
    parser.add_argument(
        "--repeats", type=int, default=7, help="interleaved rounds (default 7)"
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=6,
        help="epochs per fit; the first is dropped (default 6, minimum 2)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    parser.add_argument(
        "--tile",
        type=int,
        default=1,
        help=(
            "repeat the digits this many times per epoch (default 1); a "
            "diagnostic: longer epochs separate per-epoch from per-step costs"
        ),
    )
    parser.add_argument(
        "--backend-note",
        action="store_true",
        help="print the backend, versions and settings above the table",
    )
    parser.add_argument("--output", help="also write the Markdown to this file")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.repeats < 1 or args.epochs < 2 or args.tile < 1:
        print(
            "error: need --repeats >= 1, --epochs >= 2 and --tile >= 1",
            file=sys.stderr,
        )
        return 2
    x, y = load_data(args.tile)
    steps = math.ceil(len(x) / BATCH_SIZE)
    started = time.perf_counter()
    times = run(x, y, args.repeats, args.epochs, args.seed)
    elapsed = time.perf_counter() - started
    text = markdown_table(summarize(times))
    if args.backend_note:
        note = backend_note(args.repeats, args.epochs, steps, args.tile)
        text = f"{note} Run took {elapsed:.0f} s.\n\n{text}"
    print(text)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as file:
            file.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
