"""Transfer learning, offline: pretrain on digits 0-4, fine-tune on few 5-9.

For each seed, side by side in one process:

* **pretrain** `build_cnn((8, 8, 1), 5, filters=(16, 32))` on the training
  digits 0-4 (Adam 1e-3, 8 epochs, batch 32) - shared by the fine-tuning arms;
* a **sample**: `--fraction` (default 10 %) of the training digits 5-9,
  stratified by the seed; validation and test: all of the split's 5-9;
* **fine-tune**: `keras_recipes.fine_tuning.fine_tune` of the pretrained CNN
  (head 3 epochs, then 10 epochs with discriminative rates, multipliers from
  0.01);
* **uniform**: the same, `lowest_multiplier=1` (every layer at the head's
  rate: fine-tuning without discriminative rates);
* **scratch**: the same architecture from a fresh initialization (5
  outputs), the same recipe as the fine-tuning (LR finder, 1cycle, early
  stopping on val_accuracy, best epoch) for head + fine-tune epochs (13).

Reported: each arm's test accuracy per seed, the median and min-max, the
gain of fine-tune over scratch and over uniform, how many seeds it wins, and
the wall times (pretraining apart).

Goal: fine-tuning beats from-scratch on >= 8 of 10 seeds.

The fine-tuning and scratch arms train at `--batch` (default 16: the sample
is 63 images, 4 steps an epoch).

Usage:
    KERAS_BACKEND=jax python benchmarks/transfer.py --seeds 10
    KERAS_BACKEND=jax python benchmarks/transfer.py --seeds 10 --batch 32
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

import keras_recipes as kr
from keras_recipes.data import load_dataset
from keras_recipes.fine_tuning import fine_tune

# Batch 16: the sample is 63 images, 4 steps an epoch (32 gives 2).
HEAD_EPOCHS, EPOCHS, PRETRAIN_EPOCHS, BATCH, PRETRAIN_BATCH = 3, 10, 8, 16, 32


def subset(x, y, classes):
    keep = np.isin(y, classes)
    return x[keep], (y[keep] - min(classes)).astype("int32")


def sample(x, y, fraction, seed):
    rng = np.random.default_rng(seed)
    rows = np.concatenate([
        rng.choice(np.flatnonzero(y == c), max(2, round(fraction * np.sum(y == c))),
                   replace=False)
        for c in np.unique(y)
    ])  # fmt: skip
    return x[rows], y[rows]


def scratch(x, y, validation_data, seed, batch, suggestion):
    """The recipe from a fresh initialization: finder, 1cycle, best epoch."""
    keras.utils.set_random_seed(seed)
    model = kr.build_cnn((8, 8, 1), 5, filters=(16, 32))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    finder = kr.find_learning_rate(model, x, y, batch_size=batch, verbose=0)
    rate = finder.suggestions.get(suggestion) or 1e-3
    stopper = kr.EarlyStopping("val_accuracy", patience=5)
    model.fit(
        x, y, validation_data=validation_data, batch_size=batch,
        epochs=HEAD_EPOCHS + EPOCHS, verbose=0,
        callbacks=[kr.OneCycle(rate), stopper],
    )  # fmt: skip
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--suggestion", default="minimum")
    parser.add_argument("--lowest", type=float, default=0.01,
                        help="the fine-tune arm's lowest_multiplier")  # fmt: skip
    args = parser.parse_args(argv)
    rows = []
    for seed in range(args.seeds):
        splits = load_dataset("digits", seed=seed)
        x04, y04 = subset(splits.x_train, splits.y_train, range(5))
        val04 = subset(splits.x_val, splits.y_val, range(5))
        x59, y59 = subset(splits.x_train, splits.y_train, range(5, 10))
        val59 = subset(splits.x_val, splits.y_val, range(5, 10))
        test59 = subset(splits.x_test, splits.y_test, range(5, 10))
        xs, ys = sample(x59, y59, args.fraction, seed)
        keras.utils.set_random_seed(1000 + seed)
        pretrained = kr.build_cnn((8, 8, 1), 5, filters=(16, 32))
        pretrained.compile("adam", "sparse_categorical_crossentropy",
                           metrics=["accuracy"])  # fmt: skip
        pretrained.fit(x04, y04, validation_data=val04, batch_size=PRETRAIN_BATCH,
                       epochs=PRETRAIN_EPOCHS, verbose=0)  # fmt: skip
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "pretrained.keras"
            pretrained.save(path)
            row = {"seed": seed, "samples": len(xs)}
            for arm, lowest in (("fine-tune", args.lowest), ("uniform", 1.0)):
                start = time.perf_counter()
                result = fine_tune(
                    str(path), xs, ys, validation_data=val59, num_classes=5,
                    head_epochs=HEAD_EPOCHS, epochs=EPOCHS, lowest_multiplier=lowest,
                    batch_size=args.batch, log_dir=Path(folder) / arm, seed=seed,
                    suggestion=args.suggestion,
                    verbose=0,
                )  # fmt: skip
                row[arm + "_seconds"] = time.perf_counter() - start
                row[arm] = float(result.model.evaluate(*test59, verbose=0)[1])
            start = time.perf_counter()
            model = scratch(xs, ys, val59, seed, args.batch, args.suggestion)
            row["scratch_seconds"] = time.perf_counter() - start
            row["scratch"] = float(model.evaluate(*test59, verbose=0)[1])
        rows.append(row)
        print(json.dumps(row), flush=True)
    report(rows, args)


def report(rows, args):
    def summary(key):
        values = [row[key] for row in rows]
        return f"{statistics.median(values):.4f} ({min(values):.4f}-{max(values):.4f})"

    backend, samples = keras.backend.backend(), rows[0]["samples"]
    print(f"\nbackend {backend}, {len(rows)} seeds, sample {args.fraction:.0%} of "
          f"digits 5-9 ({samples} images), batch {args.batch}, head rate: the "
          f"finder's {args.suggestion}, lowest multiplier {args.lowest:g}")  # fmt: skip
    print("| arm | test accuracy, median (min-max) | seconds, median (min-max) |")
    print("|---|---|---|")
    for arm in ("fine-tune", "uniform", "scratch"):
        print(f"| {arm} | {summary(arm)} | {summary(arm + '_seconds')} |")
    for other in ("scratch", "uniform"):
        gains = [row["fine-tune"] - row[other] for row in rows]
        wins = sum(gain > 0 for gain in gains)
        print(f"fine-tune vs {other}: median gain {statistics.median(gains):+.4f}, "
              f"wins on {wins} of {len(rows)} seeds")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    sys.exit(main())
