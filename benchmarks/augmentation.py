"""Augmentation and test-time augmentation, at a fixed epoch budget.

For each seed and training-set size (all of digits' training split, and a
quarter of it), side by side in one process, the same CNN
(`build_cnn((8, 8, 1), 10, filters=(16, 32))`, built after
`set_random_seed(seed)`: the same initial weights) trained for `--epochs`
epochs with Adam(1e-3), batch 32, no early stopping:

* **plain**: no augmentation;
* **augment**: `build_cnn(..., augment=True)` (random shifts of 10 %,
  rotations of 18 degrees, zooms of 10 %, in training only).

Each model's test accuracy is measured as it is (`predict`) and with
test-time augmentation (`tta_predict(model, x, shift=1)`: the mean over the
image and its four 1-pixel shifts). Reported: the median and min-max over
the seeds of the four accuracies, the median gain of augmentation and of
TTA, and the seconds per fit (augmentation runs in the train step).

Usage:
    KERAS_BACKEND=tensorflow python benchmarks/augmentation.py --seeds 5
    KERAS_BACKEND=tensorflow python benchmarks/augmentation.py --epochs 60
    KERAS_BACKEND=tensorflow python benchmarks/augmentation.py \
        --amounts '{"translation": 0.05, "rotation": 0.02, "zoom": 0.0}'
    KERAS_BACKEND=tensorflow python benchmarks/augmentation.py --seeds 3 \
        --standardize global
"""

import argparse
import dataclasses
import json
import statistics
import sys
import time

import keras
import numpy as np

import keras_recipes as kr
from keras_recipes.data import load_dataset


def fit_and_score(splits, rows, augment, seed, epochs):
    keras.utils.set_random_seed(seed)
    model = kr.build_cnn((8, 8, 1), 10, filters=(16, 32), augment=augment)
    model.compile(
        keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )  # fmt: skip
    start = time.perf_counter()
    model.fit(splits.x_train[rows], splits.y_train[rows], batch_size=32,
              epochs=epochs, verbose=0)  # fmt: skip
    seconds = time.perf_counter() - start
    plain = model.predict(splits.x_test, verbose=0).argmax(-1)
    tta = kr.tta_predict(model, splits.x_test, shift=1).argmax(-1)
    return {
        "accuracy": float(np.mean(plain == splits.y_test)),
        "tta": float(np.mean(tta == splits.y_test)),
        "seconds": seconds,
    }


def globally_standardized(splits):
    """The splits' raw images standardized by one mean and std (the
    training split's), instead of each pixel by its own."""
    raw = {}
    for name in ("x_train", "x_val", "x_test"):
        x = getattr(splits, name)
        # A constant pixel (std inf) is 0 after the loader: its mean before.
        raw[name] = np.where(
            np.isinf(splits.std), splits.mean, x * splits.std + splits.mean
        )
    mean, std = raw["x_train"].mean(), raw["x_train"].std()
    scaled = {name: ((x - mean) / std).astype("float32") for name, x in raw.items()}
    return dataclasses.replace(splits, **scaled)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--amounts", type=json.loads, default=True,
                        help="build_cnn's augment as JSON")  # fmt: skip
    parser.add_argument(
        "--standardize", choices=("pixel", "global"), default="pixel",
        help="pixel: the loader's (each pixel by its own mean and std); global: "
        "one mean and std for all pixels",
    )  # fmt: skip
    args = parser.parse_args(argv)
    results = {}
    for seed in range(args.seeds):
        splits = load_dataset("digits", seed=seed)
        if args.standardize == "global":
            splits = globally_standardized(splits)
        everything = np.arange(len(splits.x_train))
        quarter = np.random.default_rng(seed).permutation(everything)[
            : len(everything) // 4
        ]
        for size, rows in (("all", everything), ("quarter", quarter)):
            for arm, augment in (("plain", False), ("augment", args.amounts)):
                score = fit_and_score(splits, rows, augment, seed, args.epochs)
                results.setdefault((size, arm), []).append(score)
                print(size, arm, seed, score, flush=True)
    print(f"\nbackend {keras.backend.backend()}, {args.seeds} seeds, "
          f"{args.epochs} epochs, augment={args.amounts}, standardized by "
          f"{args.standardize}")  # fmt: skip
    print("| training set | arm | test accuracy | with TTA | seconds per fit |")
    print("|---|---|---|---|---|")
    for (size, arm), scores in results.items():

        def summary(key, scores=scores):
            values = [s[key] for s in scores]
            low, high = min(values), max(values)
            return f"{statistics.median(values):.4f} ({low:.4f}-{high:.4f})"

        n = len(splits.x_train) if size == "all" else len(splits.x_train) // 4
        print(f"| {size} ({n}) | {arm} | {summary('accuracy')} | {summary('tta')} "
              f"| {summary('seconds')} |")  # fmt: skip
    for size in ("all", "quarter"):
        gain = [
            a["accuracy"] - p["accuracy"]
            for a, p in zip(
                results[size, "augment"], results[size, "plain"], strict=True
            )
        ]
        tta_gain = [s["tta"] - s["accuracy"] for s in results[size, "augment"]]
        print(f"{size}: augmentation {statistics.median(gain):+.4f} (wins "
              f"{sum(g > 0 for g in gain)}/{len(gain)}), TTA on the augmented "
              f"model {statistics.median(tta_gain):+.4f}")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
