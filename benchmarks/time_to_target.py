"""Time to target: the `train` recipe against the recipe a Keras user writes.

For each seed, side by side in one process (arms in an order shuffled per
seed, after one untimed warm-up fit), every arm on the recipe's model,
`build_cnn(..., activation="relu")` built after `set_random_seed(seed)` (the
same initial weights for all arms), batch 32:

* **peer**, Keras's built-in best practice: `Adam(1e-3)` with
  `ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=3)`,
  `EarlyStopping(monitor="val_loss", patience=8, restore_best_weights=True)`
  and `ModelCheckpoint(save_best_only=True)`, at most 60 epochs. Its best
  validation loss is the **target**.
* **constant**: `Adam(1e-3)`, 30 epochs, no callback (for reference).
* **recipe**: what `keras-recipes train` does: the LR range test, then
  `OneCycle(max_learning_rate=<the finder's "minimum">)` over 10 epochs
  with our `EarlyStopping("val_loss", patience=5)` watching from the
  schedule's peak and `BestCheckpoint(monitor="val_loss")`, on the
  recipe's batches (`ShuffledBatches`: each epoch's order drawn from the
  seed and the epoch). `--recipe-epochs` and `--monitor` run a variant of
  it (`--recipe-epochs 15 --monitor val_accuracy`: the recipe before it
  moved to 10 epochs on the validation loss, code `4b7250c`), and
  `--weight-decay 0.01` the recipe on AdamW (the command's `--weight-decay`).
  The rest of what the command adds (TensorBoard, the CSV log, the backup,
  the plots) is left out, as the peer writes none of it.

Reported per arm, over the seeds (median, min-max): the wall time (the finder
included) and the epochs until the validation loss first reaches the target,
the whole run's wall time, and the test accuracy and loss of the model each
arm ends with (the peer: its restored best weights; the recipe: its best
checkpoint, as the command evaluates it).

Data (`--data`): `digits` is `load_dataset("digits", seed=seed)`, the
recipe's split (1,257 train / 270 validation / 270 test images of 8x8);
`digits4x` is the same with the training split made 4x larger by three
copies through Keras's preprocessing layers `RandomTranslation(0.1, 0.1)`
and `RandomRotation(0.05)` (seeded; validation and test untouched).

Goal: the recipe reaches the target in <= 0.5x the peer's wall time, with a
test accuracy >= the peer's on >= 7 of 10 seeds.

Usage:
    KERAS_BACKEND=tensorflow python benchmarks/time_to_target.py --seeds 10
    KERAS_BACKEND=tensorflow python benchmarks/time_to_target.py \
        --recipe-epochs 15 --monitor val_accuracy
    KERAS_BACKEND=tensorflow python benchmarks/time_to_target.py --data digits4x
"""

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

import keras_recipes as kr
from keras_recipes.batches import ShuffledBatches
from keras_recipes.commands.train import (
    MONITOR,
    build_parser,
    peak_epoch,
    suggestion_method,
)
from keras_recipes.data import Splits, load_dataset
from keras_recipes.optimizers import make_optimizer

BATCH = 32
# The command's defaults: --epochs, --patience, --weight-decay.
_DEFAULTS = build_parser()
RECIPE_EPOCHS = _DEFAULTS.get_default("epochs")
PATIENCE = _DEFAULTS.get_default("patience")
WEIGHT_DECAY = _DEFAULTS.get_default("weight_decay")


class EpochLog(keras.callbacks.Callback):
    """Seconds since the arm began, and the validation loss, at each epoch end."""

    def __init__(self, start):
        super().__init__()
        self.start = start
        self.seconds, self.val_loss = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)
        self.val_loss.append(float(logs["val_loss"]))


def fresh_model(seed, data):
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = kr.build_cnn(data.x_train.shape[1:], data.num_classes, activation="relu")
    model.compile(
        keras.optimizers.Adam(1e-3),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def augmented(data, seed, copies=3):
    """The splits with `copies` augmented copies of the training images added."""
    augment = keras.Sequential(
        [
            keras.layers.RandomTranslation(0.1, 0.1, seed=seed),
            keras.layers.RandomRotation(0.05, seed=seed + 1),
        ]
    )
    extra = [
        keras.ops.convert_to_numpy(augment(data.x_train, training=True))
        for _ in range(copies)
    ]
    x = np.concatenate([data.x_train, *extra]).astype("float32")
    y = np.concatenate([data.y_train] * (copies + 1))
    order = np.random.default_rng(seed).permutation(len(x))
    return Splits(
        x[order],
        y[order],
        data.x_val,
        data.y_val,
        data.x_test,
        data.y_test,
        data.num_classes,
    )


def run_arm(
    arm,
    seed,
    data,
    folder,
    recipe_epochs=RECIPE_EPOCHS,
    monitor=MONITOR,
    weight_decay=WEIGHT_DECAY,
):
    start = time.perf_counter()
    model = fresh_model(seed, data)
    if arm == "recipe":  # The command's optimizer (AdamW with a weight decay).
        model.compile(
            make_optimizer("adam", 1e-3, weight_decay=weight_decay),
            "sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    build_seconds = time.perf_counter() - start
    start = time.perf_counter()
    log = EpochLog(start)
    finder_seconds = 0.0
    inputs = {"x": data.x_train, "y": data.y_train, "batch_size": BATCH}
    if arm == "peer":
        epochs = 60
        callbacks = [
            keras.callbacks.ReduceLROnPlateau(
                monitor="val_loss", factor=0.5, patience=3
            ),
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=8, restore_best_weights=True
            ),
            keras.callbacks.ModelCheckpoint(
                str(folder / "peer.keras"), save_best_only=True
            ),
        ]
    elif arm == "constant":
        epochs, callbacks = 30, []
    else:
        finder = kr.find_learning_rate(
            model, data.x_train, data.y_train, batch_size=BATCH, verbose=0
        )
        finder_seconds = time.perf_counter() - start
        method = suggestion_method("auto", "one-cycle")
        peak = finder.suggestions.get(method) or 1e-3
        epochs = recipe_epochs
        schedule = kr.OneCycle(max_learning_rate=peak)
        # The batches and the early stopping's first epoch as the command has them.
        batches = ShuffledBatches(data.x_train, data.y_train, BATCH, seed)
        inputs = {"x": batches, "shuffle": False}
        first = peak_epoch(
            schedule, argparse.Namespace(epochs=epochs), len(batches), peak
        )
        checkpoint = kr.BestCheckpoint(
            folder / "recipe" / "model.keras", monitor=monitor
        )
        callbacks = [
            schedule,
            batches.follow_epochs(),
            kr.EarlyStopping(monitor, patience=PATIENCE, start_from_epoch=first),
            checkpoint,
        ]
    model.fit(
        **inputs,
        validation_data=(data.x_val, data.y_val),
        epochs=epochs,
        callbacks=[*callbacks, log],
        verbose=0,
    )
    seconds = time.perf_counter() - start
    if arm == "recipe":
        model = keras.models.load_model(checkpoint.best_path)
    test_loss, test_accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)
    return {
        "arm": arm,
        "seed": seed,
        "build_seconds": build_seconds,
        "finder_seconds": finder_seconds,
        "seconds": seconds,
        "epoch_seconds": log.seconds,
        "val_loss": log.val_loss,
        "test_accuracy": float(test_accuracy),
        "test_loss": float(test_loss),
    }


def reach(run, target):
    for epoch, value in enumerate(run["val_loss"], start=1):
        if value <= target:
            return epoch, run["epoch_seconds"][epoch - 1]
    return None, None


def spread(values, fmt=".2f"):
    values = [v for v in values if v is not None]
    if not values:
        return "never"
    median = statistics.median(values)
    return f"{median:{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--data", choices=["digits", "digits4x"], default="digits")
    parser.add_argument("--out", default=None, help="also write the runs as JSON")
    parser.add_argument(
        "--recipe-epochs", type=int, default=RECIPE_EPOCHS, help="1cycle length"
    )
    parser.add_argument(
        "--monitor",
        choices=["val_accuracy", "val_loss"],
        default=MONITOR,
        help="what the recipe's early stopping and checkpoint watch",
    )
    parser.add_argument(
        "--weight-decay",
        type=float,
        default=WEIGHT_DECAY,
        help="the recipe's AdamW weight decay (0: Adam)",
    )
    args = parser.parse_args(argv)
    arms = ["peer", "constant", "recipe"]
    folder = Path(tempfile.mkdtemp(prefix="time_to_target_"))
    runs = []
    begin = time.perf_counter()
    for seed in range(args.seeds):
        data = load_dataset("digits", seed=seed)
        if args.data == "digits4x":
            data = augmented(data, seed)
        if seed == 0:  # Warm-up, not counted.
            fresh_model(0, data).fit(
                data.x_train[:256], data.y_train[:256], epochs=1, verbose=0
            )
        order = list(arms)
        random.Random(seed).shuffle(order)
        by_arm = {
            arm: run_arm(
                arm,
                seed,
                data,
                folder / str(seed),
                args.recipe_epochs,
                args.monitor,
                args.weight_decay,
            )
            for arm in order
        }
        target = min(by_arm["peer"]["val_loss"])
        for arm in arms:
            run = by_arm[arm]
            run["target"] = target
            run["target_epoch"], run["target_seconds"] = reach(run, target)
            runs.append(run)
        peer, recipe = by_arm["peer"], by_arm["recipe"]
        print(
            f"seed {seed}: target {target:.4f}; peer {peer['seconds']:.1f} s "
            f"({len(peer['val_loss'])} epochs) test {peer['test_accuracy']:.4f}; "
            f"recipe to target {recipe['target_seconds']} s, epoch "
            f"{recipe['target_epoch']}, test {recipe['test_accuracy']:.4f}",
            file=sys.stderr,
            flush=True,
        )

    def of(arm):
        return [r for r in runs if r["arm"] == arm]

    peers = {r["seed"]: r for r in of("peer")}
    print(
        f"Backend {keras.backend.backend()}, Keras {keras.__version__}; data "
        f"{args.data} ({len(data.x_train)} training samples); recipe "
        f"{args.recipe_epochs} epochs, watching {args.monitor}, weight decay "
        f"{args.weight_decay:g}; {args.seeds} "
        f"seeds; median (min-max); {time.perf_counter() - begin:.0f} s in all.\n"
    )
    print(
        "| arm | epochs run | wall, whole run (s) | epochs to the target | "
        "wall to the target (s) | wall to the target / peer's whole run | "
        "test accuracy | test loss |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for arm in arms:
        rs = of(arm)
        reached = sum(r["target_epoch"] is not None for r in rs)
        ratios = [
            r["target_seconds"] / peers[r["seed"]]["seconds"]
            if r["target_seconds"] is not None
            else None
            for r in rs
        ]
        print(
            f"| {arm} | {spread([len(r['val_loss']) for r in rs], 'g')} | "
            f"{spread([r['seconds'] for r in rs], '.1f')} | "
            f"{spread([r['target_epoch'] for r in rs], 'g')} [{reached}/{len(rs)}] | "
            f"{spread([r['target_seconds'] for r in rs], '.1f')} | "
            f"{spread(ratios)} | {spread([r['test_accuracy'] for r in rs], '.4f')} | "
            f"{spread([r['test_loss'] for r in rs], '.4f')} |"
        )
    recipes = of("recipe")
    at_least = sum(
        r["test_accuracy"] >= peers[r["seed"]]["test_accuracy"] - 1e-9 for r in recipes
    )
    fast = sum(
        r["target_seconds"] is not None
        and r["target_seconds"] <= 0.5 * peers[r["seed"]]["seconds"]
        for r in recipes
    )
    print(
        f"\nRecipe test accuracy >= the peer's: {at_least} of {len(recipes)} seeds. "
        f"Recipe at the target in <= 0.5x the peer's wall time: {fast} of "
        f"{len(recipes)} seeds.\n"
    )
    print(
        "| seed | target | peer: epochs, wall (s), test acc | recipe: epoch at "
        "target, wall at target (s), test acc |"
    )
    print("|---|---|---|---|")
    for r in recipes:
        p = peers[r["seed"]]
        at = "never" if r["target_seconds"] is None else f"{r['target_seconds']:.1f}"
        print(
            f"| {r['seed']} | {r['target']:.4f} | {len(p['val_loss'])}, "
            f"{p['seconds']:.1f}, {p['test_accuracy']:.4f} | {r['target_epoch']}, "
            f"{at}, {r['test_accuracy']:.4f} |"
        )
    if args.out:
        Path(args.out).write_text(
            json.dumps({"args": vars(args), "runs": runs}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
