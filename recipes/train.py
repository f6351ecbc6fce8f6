"""Train a classifier on the embedded digits with an in-graph LR schedule.

A short training run that shows the scheduling callbacks at work: a small
He-initialized ReLU MLP on scikit-learn's bundled digits (no network needed),
SGD with momentum, and 1cycle by default. The full `train` recipe (LR finder,
best checkpoint, early stopping, plots) arrives with the recipe issue.

Usage:
    python recipes/train.py                       # 1cycle, 20 epochs
    python recipes/train.py --schedule power --epochs 30
    python recipes/train.py --smoke               # seconds, for the tests
    KERAS_BACKEND=jax python recipes/train.py     # any Keras backend

Writes to --log-dir (default runs/train-<time>): args.json, metrics.json,
history.csv and TensorBoard logs (`tensorboard --logdir <log-dir>`).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import keras

import keras_recipes
from keras_recipes.data import load_digits

SCHEDULES = ("one-cycle", "power", "exponential", "piecewise", "performance", "none")


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=0.1,
        help="peak LR for one-cycle, initial LR for the others",
    )
    parser.add_argument("--schedule", choices=SCHEDULES, default="one-cycle")
    parser.add_argument("--dataset", choices=("digits",), default="digits")
    parser.add_argument("--log-dir", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--smoke", action="store_true", help="a seconds-long run (2 epochs)"
    )
    return parser


def make_schedule_callback(name, learning_rate, epochs):
    if name == "one-cycle":
        return keras_recipes.OneCycle(max_learning_rate=learning_rate)
    if name == "power":
        return keras_recipes.PowerScheduling(learning_rate, decay_epochs=epochs / 4)
    if name == "exponential":
        return keras_recipes.ExponentialScheduling(learning_rate, decay_epochs=epochs)
    if name == "piecewise":
        boundaries = [epochs / 2, 3 * epochs / 4]
        values = [learning_rate, learning_rate / 10, learning_rate / 100]
        return keras_recipes.PiecewiseConstantScheduling(boundaries, values)
    if name == "performance":
        return keras_recipes.PerformanceScheduling("val_loss", factor=0.5, patience=2)
    return None


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.smoke:
        args.epochs = 2
    log_dir = args.log_dir or Path("runs") / time.strftime("train-%Y%m%d-%H%M%S")
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / "args.json").write_text(
        json.dumps(
            {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            indent=2,
        )
    )
    keras.utils.set_random_seed(args.seed)

    data = load_digits(seed=args.seed)
    print(
        f"digits: {len(data.x_train)} train / {len(data.x_val)} validation / "
        f"{len(data.x_test)} test samples, backend {keras.backend.backend()}"
    )
    model = keras_recipes.build_mlp(
        data.x_train.shape[1:], data.num_classes, hidden_layers=2, units=128
    )
    model.compile(
        optimizer=keras.optimizers.SGD(args.learning_rate, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    callbacks = [
        keras.callbacks.CSVLogger(str(log_dir / "history.csv")),
        keras.callbacks.TensorBoard(str(log_dir / "tensorboard")),
    ]
    schedule = make_schedule_callback(args.schedule, args.learning_rate, args.epochs)
    if schedule is not None:
        callbacks.insert(0, schedule)

    start = time.perf_counter()
    history = model.fit(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=args.epochs,
        batch_size=args.batch_size,
        callbacks=callbacks,
        verbose=2,
    )
    seconds = time.perf_counter() - start
    test_loss, test_accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)
    metrics = {
        "test_loss": float(test_loss),
        "test_accuracy": float(test_accuracy),
        "val_accuracy": float(history.history["val_accuracy"][-1]),
        "learning_rate": [float(v) for v in history.history.get("learning_rate", [])],
        "train_seconds": seconds,
    }
    (log_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"test accuracy: {test_accuracy:.4f}")
    print(f"outputs in {log_dir}  (tensorboard --logdir {log_dir / 'tensorboard'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
