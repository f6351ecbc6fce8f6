"""Cost of every callback of `keras_recipes` at its defaults, side by side.

For each model, one model is built, compiled and fit once (traced), then
every variant below runs a 4-epoch `fit` of that same model, interleaved in
an order shuffled per repeat, and is compared with the fit without a
callback of the same repeat:

* per epoch: the median of the fit's epochs 2-4, timed from the first
  callback's `on_epoch_begin` to the last one's `on_epoch_end` (so the epoch
  hooks under test are inside);
* per fit: the whole `model.fit` call, which also holds what a callback
  pays once per fit (a retrace of the train step after changing it, copies
  at train begin, files written).

The table gives the median ratio to the baseline and its min-max over the
repeats; "baseline (A/A)" is a second fit without a callback, the noise.
The goal is <= 1.05x for each.

The monitors are measured twice: at their defaults (`GradientMonitor`
every 100 batches, `ActivationMonitor` every epoch), and at a check every 8
batches / every epoch to give the cost per check in milliseconds
((epoch - baseline epoch) / checks per epoch).

The LR finder is compared with 100 plain steps: `find_learning_rate` with
`num_steps=100` (a sweep that does not diverge, so all 100 steps run) against
`model.fit` of 100 batches of the same model.

Models (`--model`):
    digits: 64 -> 128 -> 128 -> 10 (ReLU), 25k parameters, 6 variables, on
        scikit-learn's digits (1,797 samples, batch 32: 57 steps per epoch).
    mlp1m: 256 -> 1024 -> 1024 -> 10, 1.33M parameters, on synthetic data
        (2,048 samples, batch 64: 32 steps per epoch).
    deep: 64 -> 50 x Dense(32, ReLU) -> 10, 102 variables, on digits.
All with Adam(1e-3) and sparse categorical crossentropy.

Usage:
    KERAS_BACKEND=jax python benchmarks/callback_cost.py --model mlp1m --repeats 5
"""

import argparse
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

import keras_recipes as kr

EPOCHS = 4
GOAL = 1.05
BASELINE = "baseline"


def build(kind):
    if kind == "mlp1m":
        sizes, inputs = [1024, 1024], 256
    elif kind == "deep":
        sizes, inputs = [32] * 50, 64
    else:
        sizes, inputs = [128, 128], 64
    layers = [keras.Input((inputs,))]
    layers += [keras.layers.Dense(n, activation="relu") for n in sizes]
    layers.append(keras.layers.Dense(10, activation="softmax"))
    model = keras.Sequential(layers)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    return model


def load(kind):
    if kind == "mlp1m":
        rng = np.random.default_rng(0)
        x = rng.normal(size=(2048, 256)).astype("float32")
        return x, (x[:, :10].argmax(axis=1)).astype("int32"), 64
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = digits.data.astype("float32")
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-7)
    return x, digits.target.astype("int32"), 32


class _Clock(keras.callbacks.Callback):
    def __init__(self, clock, first):
        super().__init__()
        self.clock, self.first = clock, first

    def on_epoch_begin(self, epoch, logs=None):
        if self.first:
            self.clock["start"] = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if not self.first:
            self.clock["epochs"].append(time.perf_counter() - self.clock["start"])


def variants(x, y, folder):
    probe = (x[:256], y[:256])
    return {
        BASELINE: lambda: [],
        "baseline (A/A)": lambda: [],
        "OneCycle": lambda: [kr.OneCycle(max_learning_rate=3e-3)],
        "PowerScheduling": lambda: [kr.PowerScheduling(decay_epochs=1)],
        "ExponentialScheduling": lambda: [kr.ExponentialScheduling(decay_epochs=2)],
        "PiecewiseConstantScheduling": lambda: [
            kr.PiecewiseConstantScheduling([1, 2], [1e-3, 5e-4, 1e-4])
        ],
        "PerformanceScheduling": lambda: [kr.PerformanceScheduling(monitor="loss")],
        "EarlyStopping": lambda: [kr.EarlyStopping(monitor="loss")],
        "BestCheckpoint": lambda: [
            kr.BestCheckpoint(folder() / "best.keras", monitor="loss")
        ],
        "ResumableBackup": lambda: [kr.ResumableBackup(folder() / "backup")],
        "BestCheckpoint(save_on_background=False) (ref.)": lambda: [
            kr.BestCheckpoint(
                folder() / "best.keras", monitor="loss", save_on_background=False
            )
        ],
        "ResumableBackup(save_on_background=False) (ref.)": lambda: [
            kr.ResumableBackup(folder() / "backup", save_on_background=False)
        ],
        "NaNGuard": lambda: [kr.NaNGuard(verbose=0)],
        "NaNGuard(check_every=1) (ref.)": lambda: [
            kr.NaNGuard(check_every=1, verbose=0)
        ],
        "GradientMonitor": lambda: [kr.GradientMonitor(probe)],
        "GradientMonitor(every=8) (per check)": lambda: [
            kr.GradientMonitor(probe, every=8)
        ],
        "ActivationMonitor": lambda: [kr.ActivationMonitor(probe[0])],
        "Keras ModelCheckpoint(save_best_only=True) (ref.)": lambda: [
            keras.callbacks.ModelCheckpoint(
                str(folder() / "best.keras"), monitor="loss", save_best_only=True
            )
        ],
        "Keras BackupAndRestore (ref.)": lambda: [
            keras.callbacks.BackupAndRestore(str(folder() / "backup"))
        ],
        "Keras EarlyStopping(restore_best_weights=True) (ref.)": lambda: [
            keras.callbacks.EarlyStopping(monitor="loss", restore_best_weights=True)
        ],
    }


PER_CHECK = {
    "GradientMonitor(every=8) (per check)": 8,
    "ActivationMonitor": None,  # one check per epoch
}
REFERENCE = [BASELINE, "baseline (A/A)"]  # and every "(ref.)": not ours


def time_fit(model, x, y, batch, callbacks):
    clock = {"epochs": []}
    start = time.perf_counter()
    model.fit(
        x,
        y,
        batch_size=batch,
        epochs=EPOCHS,
        verbose=0,
        shuffle=False,
        callbacks=[_Clock(clock, True), *callbacks, _Clock(clock, False)],
    )
    fit = time.perf_counter() - start
    return fit, statistics.median(clock["epochs"][1:])


def time_finder(model, x, y, batch):
    steps = 100
    reps = -(-steps * batch // len(x))
    xs, ys = (
        np.concatenate([x] * reps)[: steps * batch],
        np.concatenate([y] * reps)[: steps * batch],
    )
    start = time.perf_counter()
    kr.find_learning_rate(
        model,
        xs,
        ys,
        batch_size=batch,
        num_steps=steps,
        max_learning_rate=1e-3,
        verbose=0,
    )
    finder = time.perf_counter() - start
    start = time.perf_counter()
    model.fit(xs, ys, batch_size=batch, epochs=1, verbose=0, shuffle=False)
    plain = time.perf_counter() - start
    return finder / plain


# Also timed on a model fit for the first time after `compile` (a fresh model
# each time): the fit traces its train step anyway, so a callback that changes
# the step should cost no extra trace there.
COLD = [BASELINE, "OneCycle", "ExponentialScheduling", "NaNGuard"]


def time_cold_fit(kind, x, y, batch, callbacks):
    """The whole-fit time of a fresh model's first fit."""
    return time_fit(build(kind), x, y, batch, callbacks)[0]


def spread(values):
    return f"{statistics.median(values):.3f}x ({min(values):.3f}-{max(values):.3f})"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["digits", "mlp1m", "deep"], default="mlp1m")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        help="measure only the variants whose name starts with one of these "
        "(the baselines always run)",
    )
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    x, y, batch = load(args.model)
    model = build(args.model)
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0)  # Trace once.
    steps = -(-len(x) // batch)
    root = Path(tempfile.mkdtemp(prefix="callback_cost_"))
    count = iter(range(10**9))

    def folder():
        path = root / str(next(count))
        path.mkdir()
        return path

    table = variants(x, y, folder)
    if args.only:
        table = {
            name: make
            for name, make in table.items()
            if name.startswith(("baseline", *args.only))
        }
    rng = random.Random(args.seed)
    epoch_ratio = {name: [] for name in table}
    fit_ratio = {name: [] for name in table}
    base_epoch = []
    epoch_seconds = {name: [] for name in table}
    finder = []
    cold_names = [name for name in COLD if name in table]
    cold = {name: [] for name in cold_names}
    # A warm-up round, not counted: first calls compile (JAX's eager ops,
    # TensorFlow's functions of the monitors) once per process.
    for name in table:
        time_fit(model, x, y, batch, table[name]())
    time_finder(model, x, y, batch)
    for repeat in range(args.repeats):
        order = list(table)
        rng.shuffle(order)
        results = {}
        for name in order:
            results[name] = time_fit(model, x, y, batch, table[name]())
        fit0, epoch0 = results[BASELINE]
        base_epoch.append(epoch0)
        for name, (fit, epoch) in results.items():
            fit_ratio[name].append(fit / fit0)
            epoch_ratio[name].append(epoch / epoch0)
            epoch_seconds[name].append(epoch - epoch0)
        finder.append(time_finder(model, x, y, batch))
        cold_order = list(cold_names)
        rng.shuffle(cold_order)
        times = {
            n: time_cold_fit(args.model, x, y, batch, table[n]()) for n in cold_order
        }
        for name in cold_names:
            cold[name].append(times[name] / times[BASELINE])
        print(f"repeat {repeat + 1}/{args.repeats} done", file=sys.stderr)

    variables = len(model.trainable_variables)
    print(
        f"### `{args.model}`: {model.count_params():,} parameters, {variables} "
        f"trainable variables, {steps} steps per epoch, {args.repeats} repeats, "
        f"{keras.backend.backend()}\n"
    )
    print(f"Baseline epoch: {statistics.median(base_epoch) * 1000:.1f} ms (median).\n")
    print("| callback (defaults) | per epoch | per 4-epoch fit | goal <= 1.05x |")
    print("|---|---|---|---|")
    for name in table:
        if name == BASELINE:
            continue
        ok = (
            ""
            if name in REFERENCE or "(ref.)" in name
            else (
                "yes"
                if statistics.median(epoch_ratio[name]) <= GOAL
                and statistics.median(fit_ratio[name]) <= GOAL
                else "**no**"
            )
        )
        cells = [name, spread(epoch_ratio[name]), spread(fit_ratio[name]), ok]
        print("| " + " | ".join(cells) + " |")
    print(f"| LR finder, 100 steps, vs 100 plain steps | | {spread(finder)} | |")
    print()
    print(
        "First fit after `compile` (fresh model, 4 epochs), ratio to the same "
        "fit without a callback:\n"
    )
    print("| callback | per fit |")
    print("|---|---|")
    for name in cold_names[1:]:
        print(f"| {name} | {spread(cold[name])} |")
    print()
    for name, checks in ((n, c) for n, c in PER_CHECK.items() if n in table):
        per_epoch = checks and steps / checks or 1
        costs = [s / per_epoch * 1000 for s in epoch_seconds[name]]
        print(
            f"- {name.split(' ')[0]}: {statistics.median(costs):.2f} ms per check "
            f"(median; {min(costs):.2f}-{max(costs):.2f})"
        )
    print(
        f"\n{platform.platform()}, Python {platform.python_version()}, Keras "
        f"{keras.__version__}\n"
    )


if __name__ == "__main__":
    main()
