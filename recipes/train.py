"""Train a classifier the recommended way, on the embedded digits or your data.

The main recipe: a model whose initializers follow its activation (a small
CNN for images, an MLP otherwise), the LR range test to pick the peak
learning rate, 1cycle training (momentum cycled too), the best checkpoint
kept atomically, early stopping, TensorBoard, and the best model evaluated on
the test split.

Usage:
    python recipes/train.py                         # digits, about 15 seconds
    python recipes/train.py --model mlp --epochs 30
    python recipes/train.py --dataset data.npz      # arrays x, y
    python recipes/train.py --dataset fashion_mnist # downloads once
    python recipes/train.py --smoke                 # seconds, for the tests
    KERAS_BACKEND=jax python recipes/train.py       # any Keras backend

One run folder (--log-dir, default runs/train-<time>) holds: args.json,
metrics.json, history.csv, best/ (checkpoints and their manifest),
tensorboard/, lr_finder.png, learning_curves.png, schedule.png.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import keras
import numpy as np

import keras_recipes as kr
from keras_recipes.data import load_dataset
from keras_recipes.plots import plot_learning_curves, plot_schedule
from keras_recipes.runs import start_run

SMOKE_SWEEP = {"num_steps": 30, "min_learning_rate": 1e-4, "max_learning_rate": 1.0}
SCHEDULES = ("one-cycle", "power", "exponential", "piecewise", "performance", "none")


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--dataset",
        default="digits",
        help="digits, mnist, fashion_mnist, cifar10, or a .npz / .csv file",
    )
    parser.add_argument(
        "--model",
        choices=("auto", "cnn", "mlp"),
        default="auto",
        help="auto: a CNN for images, an MLP otherwise",
    )
    parser.add_argument("--activation", default="relu")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=None,
        help="peak (one-cycle) or initial learning rate; default: the LR finder's",
    )
    parser.add_argument("--schedule", choices=SCHEDULES, default="one-cycle")
    parser.add_argument("--patience", type=int, default=5, help="early stopping")
    parser.add_argument("--log-dir", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="a seconds-long run")
    return parser


def make_schedule_callback(name, learning_rate, epochs):
    if name == "one-cycle":
        return kr.OneCycle(max_learning_rate=learning_rate)
    if name == "power":
        return kr.PowerScheduling(learning_rate, decay_epochs=epochs / 4)
    if name == "exponential":
        return kr.ExponentialScheduling(learning_rate, decay_epochs=epochs)
    if name == "piecewise":
        values = [learning_rate, learning_rate / 10, learning_rate / 100]
        return kr.PiecewiseConstantScheduling([epochs / 2, 3 * epochs / 4], values)
    if name == "performance":
        return kr.PerformanceScheduling("val_loss", factor=0.5, patience=2)
    return None


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.smoke:
        args.epochs = 2
    log_dir = start_run(args, "train")
    start = time.perf_counter()

    print(f"[1/5] data: {args.dataset}")
    data = load_dataset(args.dataset, seed=args.seed)
    print(
        f"      {len(data.x_train)} train / {len(data.x_val)} validation / "
        f"{len(data.x_test)} test, {data.num_classes} classes, "
        f"backend {keras.backend.backend()}"
    )
    kind = args.model if args.model != "auto" else ("cnn" if data.is_image else "mlp")
    initializer = kr.initializer_for(args.activation)
    print(f"[2/5] model: {kind}, {args.activation} (initializer {initializer})")
    if kind == "cnn":
        model = kr.build_cnn(
            data.x_train.shape[1:], data.num_classes, activation=args.activation
        )
    else:
        model = kr.build_mlp(
            data.x_train.shape[1:], data.num_classes, activation=args.activation
        )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )

    learning_rate = args.learning_rate
    if learning_rate is None:
        print("[3/5] LR range test")
        finder = kr.find_learning_rate(
            model,
            data.x_train,
            data.y_train,
            batch_size=args.batch_size,
            verbose=0,
            # --smoke: a short sweep over the likely range, to stay in seconds.
            **(SMOKE_SWEEP if args.smoke else {}),
        )
        finder.plot(log_dir / "lr_finder.png")
        learning_rate = finder.suggestion or 1e-3
        reason = finder.stopped_reason
        print(f"      suggested learning rate {learning_rate:.3g} ({reason})")
    else:
        print(f"[3/5] learning rate given: {learning_rate:g}")

    print(f"[4/5] training {args.epochs} epochs, schedule {args.schedule}")
    schedule = make_schedule_callback(args.schedule, learning_rate, args.epochs)
    checkpoint = kr.BestCheckpoint(
        log_dir / "best" / "model.keras", monitor="val_accuracy"
    )
    callbacks = [
        kr.EarlyStopping("val_accuracy", patience=args.patience),
        checkpoint,
        keras.callbacks.CSVLogger(str(log_dir / "history.csv")),
        keras.callbacks.TensorBoard(str(log_dir / "tensorboard")),
    ]
    if schedule is not None:
        callbacks.insert(0, schedule)
    history = model.fit(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=args.epochs,
        batch_size=args.batch_size,
        callbacks=callbacks,
        verbose=2,
    ).history
    plot_learning_curves(
        history["loss"], history["val_loss"], log_dir / "learning_curves.png"
    )
    if isinstance(schedule, kr.OneCycle):
        steps = np.arange(int(model.optimizer.iterations.numpy()))
        rates = [float(schedule.schedule(s, xp=np)) for s in steps]
        momenta = [float(schedule.schedule.momentum(s, xp=np)) for s in steps]
        plot_schedule(rates, momenta, log_dir / "schedule.png")

    print("[5/5] evaluating the best checkpoint on the test split")
    best = keras.models.load_model(checkpoint.best_path)
    test_loss, test_accuracy = best.evaluate(data.x_test, data.y_test, verbose=0)
    metrics = {
        "test_loss": float(test_loss),
        "test_accuracy": float(test_accuracy),
        "best_val_accuracy": checkpoint.best,
        "best_epoch": checkpoint.kept[0]["epoch"],
        "learning_rate": learning_rate,
        "epochs_run": len(history["loss"]),
        "seconds": time.perf_counter() - start,
    }
    (log_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"test accuracy: {test_accuracy:.4f}")
    print(f"run folder: {log_dir} (best model: {checkpoint.best_path})")
    print(f"TensorBoard: tensorboard --logdir {log_dir / 'tensorboard'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
