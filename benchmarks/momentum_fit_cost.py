"""The fixed cost that momentum cycling adds to a fit, by the model's variables.

`OneCycle` drives the momentum (`SGD.momentum`, `Adam.beta_1`) inside the
compiled train step. Keras's optimizers read the momentum once per variable
(per use, even), so a momentum that evaluated its schedule at every read
would put one copy of the schedule per variable into the step, and tracing
and compiling it would grow with the model. This measures the whole-fit time
(tracing included) of a 1-epoch fit of an MLP of 32-unit Dense layers with:

* no callback (the baseline);
* `OneCycle(cycle_momentum=False)` (the learning rate alone);
* `OneCycle()` (learning rate and momentum);

interleaved in one process, each fit on a fresh model, over `--repeats`
repeats. It reports the median extra seconds per fit over the baseline and
their min-max range, for each number of variables (2 per Dense layer).

Usage:
    KERAS_BACKEND=tensorflow python benchmarks/momentum_fit_cost.py --repeats 5
    KERAS_BACKEND=jax python benchmarks/momentum_fit_cost.py --optimizer sgd
"""

import argparse
import random
import statistics
import sys
import time

import keras
import numpy as np

import keras_recipes as kr

VARIANTS = ("no callback", "OneCycle, learning rate only", "OneCycle, with momentum")


def build(layers, optimizer):
    model = keras.Sequential(
        [keras.Input((32,))]
        + [keras.layers.Dense(32, activation="relu") for _ in range(layers - 1)]
        + [keras.layers.Dense(10, activation="softmax")]
    )
    optimizer = (
        keras.optimizers.Adam(1e-3)
        if optimizer == "adam"
        else keras.optimizers.SGD(1e-2, momentum=0.9)
    )
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return model


def timed_fit(variant, layers, optimizer, x, y):
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = build(layers, optimizer)
    callbacks = {
        VARIANTS[0]: [],
        VARIANTS[1]: [kr.OneCycle(0.01, cycle_momentum=False)],
        VARIANTS[2]: [kr.OneCycle(0.01)],
    }[variant]
    start = time.perf_counter()
    model.fit(x, y, batch_size=64, epochs=1, verbose=0, callbacks=callbacks)
    return time.perf_counter() - start, len(model.trainable_variables)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--layers", type=int, nargs="+", default=[3, 21, 61])
    parser.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64 * 32, 32)).astype("float32")
    y = rng.integers(0, 10, size=len(x))
    timed_fit(VARIANTS[2], 2, args.optimizer, x, y)  # warm-up
    order = random.Random(0)
    rows = []
    for layers in args.layers:
        times = {v: [] for v in VARIANTS}
        for repeat in range(args.repeats):
            variants = list(VARIANTS)
            order.shuffle(variants)
            for variant in variants:
                seconds, count = timed_fit(variant, layers, args.optimizer, x, y)
                times[variant].append(seconds)
            print(f"{count} variables, repeat {repeat + 1}", file=sys.stderr)
        base = times[VARIANTS[0]]
        for variant in VARIANTS:
            extra = [t - b for t, b in zip(times[variant], base, strict=True)]
            rows.append(
                f"| {count} | {variant} | {statistics.median(times[variant]):.2f} | "
                f"{statistics.median(extra):+.2f} | {min(extra):+.2f} to "
                f"{max(extra):+.2f} |"
            )
    print(
        f"Keras {keras.version()}, backend {keras.backend.backend()}, "
        f"{args.optimizer}, {args.repeats} repeats\n"
    )
    print(
        "| variables | variant | fit (s, median) | extra s (median) | extra s range |"
    )
    print("|---:|---|---:|---:|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
