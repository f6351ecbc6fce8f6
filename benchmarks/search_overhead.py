"""Search overhead: `keras_recipes.tuning.search` against bare KerasTuner, and
trials per minute with 1 and 2 workers on loopback.

Part 1, per-trial overhead (`--part overhead`), in one process: the same
random search (`MLPHyperModel` on digits, `seed=0`, so both propose the same
trials in the same order), `--trials` trials of `--epochs` epochs, with early
stopping patience equal to the epochs (every trial runs all its epochs):

* bare: `keras_tuner.RandomSearch(...).search(...)` with Keras's
  `EarlyStopping`, nothing else;
* ours: `keras_recipes.tuning.search(...)`, which adds to every trial our
  `EarlyStopping`, a size and SHA-256 record of KerasTuner's checkpoint, a
  TensorBoard run with an hparams session and per-epoch learning rate, the
  record of the trial and the progress line, and at the end the summary
  table, the best model and the plot data.

The two run alternately, `--repeats` times each, in fresh project folders;
the ratio is of the per-trial wall times (the whole search / trials) of the
runs side by side. Goal: <= 1.10x.

Part 2, trials per minute (`--part workers`): `keras-recipes tune` as a chief
plus 1 worker, then plus 2 workers (separate processes, KerasTuner's gRPC
oracle on 127.0.0.1), `--trials` trials of `--epochs` epochs each, timed from
the start of the processes to the chief's exit (process start-up included).
On a 2-core machine two workers share the cores with the chief.

Usage:
    KERAS_BACKEND=tensorflow python benchmarks/search_overhead.py --part overhead
    KERAS_BACKEND=tensorflow python benchmarks/search_overhead.py --part workers
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import keras
import keras_tuner

ROOT = Path(__file__).resolve().parents[1]


def digits():
    from keras_recipes.data import load_dataset

    data = load_dataset("digits", seed=0)
    flat = lambda a: a.reshape(len(a), -1)  # noqa: E731
    return flat(data.x_train), data.y_train, flat(data.x_val), data.y_val


def bare(folder, trials, epochs, x, y, xv, yv):
    from keras_recipes.tuning.hypermodel import MLPHyperModel

    tuner = keras_tuner.RandomSearch(
        MLPHyperModel(x.shape[1:], 10),
        objective="val_accuracy",
        max_trials=trials,
        seed=0,
        directory=str(folder),
        project_name="bare",
    )
    tuner.search(
        x,
        y,
        validation_data=(xv, yv),
        epochs=epochs,
        verbose=0,
        callbacks=[keras.callbacks.EarlyStopping(patience=epochs)],
    )
    return len(tuner.oracle.trials)


def ours(folder, trials, epochs, x, y, xv, yv):
    from keras_recipes.tuning import search

    result = search(
        x,
        y,
        validation_data=(xv, yv),
        max_trials=trials,
        epochs=epochs,
        patience=epochs,
        directory=str(folder),
        project_name="ours",
        seed=0,
        verbose=0,
        progress=False,
    )
    return len(result.trials)


def overhead(args):
    x, y, xv, yv = digits()
    ratios, per_trial = [], {"bare": [], "ours": []}
    for repeat in range(args.repeats + 1):  # The first pair is a warm-up.
        times = {}
        order = [("bare", bare), ("ours", ours)]
        if repeat % 2:
            order.reverse()
        for name, run in order:
            folder = Path(tempfile.mkdtemp(prefix=f"search_{name}_"))
            start = time.perf_counter()
            count = run(folder, args.trials, args.epochs, x, y, xv, yv)
            times[name] = (time.perf_counter() - start) / count
        if repeat == 0:
            continue
        for name in times:
            per_trial[name].append(times[name])
        ratios.append(times["ours"] / times["bare"])
        print(
            f"repeat {repeat}: bare {times['bare']:.2f} s/trial, ours "
            f"{times['ours']:.2f} s/trial",
            file=sys.stderr,
            flush=True,
        )
    print(
        f"{args.trials} trials x {args.epochs} epochs, {args.repeats} repeats, "
        f"{keras.backend.backend()}:\n"
    )
    print("| | per trial (s), median (min-max) |")
    print("|---|---|")
    for name, values in per_trial.items():
        print(
            f"| {name} | {statistics.median(values):.2f} ({min(values):.2f}-"
            f"{max(values):.2f}) |"
        )
    print(
        f"| ours / bare | {statistics.median(ratios):.3f}x ({min(ratios):.3f}-"
        f"{max(ratios):.3f}) |"
    )


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def distributed(workers, args):
    folder = Path(tempfile.mkdtemp(prefix=f"search_{workers}w_"))
    port = free_port()
    command = [
        sys.executable,
        str(ROOT / "recipes" / "tune_mlp.py"),
        "--log-dir",
        str(folder),
        "--max-trials",
        str(args.trials),
        "--epochs",
        str(args.epochs),
        "--oracle-ip",
        "127.0.0.1",
        "--oracle-port",
        str(port),
        "--seed",
        "0",
        "--verbose",
        "0",
    ]
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend())
    start = time.perf_counter()
    processes = [
        subprocess.Popen(
            [*command, "--tuner-id", f"tuner{i}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(workers)
    ]
    chief = subprocess.Popen(
        [*command, "--tuner-id", "chief"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    code = chief.wait(timeout=1800)
    seconds = time.perf_counter() - start
    for process in processes:
        process.wait(timeout=120)
    if code != 0:
        raise RuntimeError(f"the chief exited with {code}")
    return seconds


def workers(args):
    results = {1: [], 2: []}
    for repeat in range(args.repeats):
        for count in (1, 2) if repeat % 2 == 0 else (2, 1):
            seconds = distributed(count, args)
            results[count].append(args.trials / seconds * 60)
            print(f"{count} worker(s): {seconds:.1f} s", file=sys.stderr, flush=True)
    print(
        f"{args.trials} trials x {args.epochs} epochs, {args.repeats} repeats, "
        f"{keras.backend.backend()}, {os.cpu_count()} cores:\n"
    )
    print("| workers | trials per minute, median (min-max) |")
    print("|---|---|")
    for count, values in results.items():
        print(
            f"| {count} | {statistics.median(values):.2f} ({min(values):.2f}-"
            f"{max(values):.2f}) |"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["overhead", "workers"], required=True)
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    (overhead if args.part == "overhead" else workers)(args)


if __name__ == "__main__":
    main()
