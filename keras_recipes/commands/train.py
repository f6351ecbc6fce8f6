"""Train a classifier the recommended way, on the embedded digits or your data.

The main recipe: a model whose initializers follow its activation (a small
CNN for images, an MLP otherwise), the LR range test to pick the peak
learning rate, 1cycle training (momentum cycled too), the best checkpoint
kept atomically, early stopping, TensorBoard, and the best model evaluated on
the test split.

Usage:
    keras-recipes train                         # digits, about 20 seconds
    keras-recipes train --model mlp --epochs 30
    keras-recipes train --dataset data.npz      # arrays x, y
    keras-recipes train --dataset fashion_mnist # downloads once
    keras-recipes train --smoke                 # seconds, for the tests
    KERAS_BACKEND=jax keras-recipes train       # any Keras backend
    python recipes/train.py ...                 # the same, from a checkout

One run folder (--log-dir, default runs/train-<time>) holds: args.json,
classes.json (the label of each output of the model), inputs.npz (the
standardization; `keras-recipes predict` reads both), learning_rate.json
(the rate trained at, and where it came from), metrics.json, history.csv,
best/ (checkpoints and their manifest), backup/ (while the run is not done),
tensorboard/, lr_finder.png, learning_curves.png, and schedule.png +
schedule.csv: the learning rate (and momentum) of every step the fit ran.

A killed run continues with `--resume --log-dir FOLDER` (its own arguments,
from args.json): the backup of the last epoch begun restores the weights,
the optimizer, the epoch, the early stopping and the best checkpoint, and
each epoch's batches are drawn from (seed, epoch), so the resumed run ends
with the same model as an uninterrupted one. A folder that holds a run is
refused without --resume or --overwrite, before anything is written.
"""

import math
import time

import numpy as np

import keras_recipes as kr
from keras_recipes._internal.atomic import (
    write_json,
)
from keras_recipes.commands.common import (
    UsageError,
    add_activation,
    add_batch_size,
    add_dataset,
    add_log_dir,
    add_regularization,
    add_schedule,
    add_seed,
    load_data,
    main_of,
    new_parser,
    positive_float,
    positive_int,
    regularization_of,
    scheduling_callback_of,
    write_schedule_csv,
)
from keras_recipes.plots import (
    plot_learning_curves,
    plot_lr_finder,
    plot_schedule,
)
from keras_recipes.runs import (
    add_run_folder,
    claim_run_folder,
    keep_epochs_before,
    read_chosen_rate,
    read_history,
    start_run,
)
from keras_recipes.trained import write_inputs

LEARNING_RATE_FILE = "learning_rate.json"
MONITOR = "val_loss"  # What the best checkpoint and early stopping watch.
SMOKE_SWEEP = {"num_steps": 30, "min_learning_rate": 1e-4, "max_learning_rate": 1.0}


def build_parser(parser=None):
    """Fills `parser` (or a new one) with the flags of `train`."""
    parser = new_parser(parser, __doc__)
    add_dataset(parser)
    parser.add_argument(
        "--model",
        choices=("auto", "cnn", "mlp"),
        default="auto",
        help="auto: a CNN for images, an MLP otherwise",
    )
    parser.add_argument(
        "--suggestion",
        choices=("auto", "valley", "minimum", "steep", "slide"),
        default="auto",
        help="which of the LR finder's suggestions to train at; auto: minimum "
        "(the loss minimum / 10) for one-cycle, valley for the other schedules",
    )
    add_activation(parser)
    parser.add_argument(
        "--epochs", type=positive_int, default=10, help="epochs to train at most"
    )
    add_batch_size(parser)
    parser.add_argument(
        "--learning-rate",
        type=positive_float,
        default=None,
        help="peak (one-cycle) or initial learning rate (default: the LR finder's)",
    )
    add_schedule(parser)  # Preview one with `keras-recipes schedule`.
    parser.add_argument(
        "--patience",
        type=positive_int,
        default=5,
        help="early stopping: epochs without a lower val_loss",
    )
    parser.add_argument(
        "--augment",
        action="store_true",
        help="random shifts, rotations and zooms of the images in training "
        "(the CNN; keras_recipes.models.augment)",
    )
    # No weight decay by default: on digits AdamW's 0.01 (fastai's default for
    # `fit_one_cycle`) reached Keras's best practice's validation loss on 7 of
    # 10 seeds against 5, but with a worse test loss and accuracy
    # (docs/benchmarks.md, time to target).
    add_regularization(parser)
    add_log_dir(parser, "train")
    add_seed(parser)
    parser.add_argument(
        "--smoke", action="store_true", help="a seconds-long run (2 epochs)"
    )
    add_run_folder(parser)
    return parser


def suggestion_method(suggestion, schedule):
    """The LR finder suggestion `train` uses: `--suggestion`, or for `auto`
    `"minimum"` (a tenth of the loss minimum's rate) with 1cycle and `"valley"`
    otherwise.

    1cycle warms up to its peak and anneals far below it, so a high peak
    trains well and regularizes (Smith & Topin, arXiv:1708.07120); fastai's
    advice for `fit_one_cycle` is a tenth of the minimum. A schedule that stays
    near its initial rate needs the stable `valley`. On digits, over 10 seeds,
    `minimum` gave a median test accuracy of 0.9889 against 0.9796 for
    `valley` (docs/benchmarks.md).
    """
    if suggestion != "auto":
        return suggestion
    return "minimum" if schedule == "one-cycle" else "valley"


def peak_epoch(schedule, args, steps_per_epoch, learning_rate):
    """The epoch (0-based) in which the scheduled learning rate peaks.

    Early stopping watches from there on: near a 1cycle's peak the
    validation metrics can be rough for several epochs before the annealing
    phase brings them down (on digits, seed 1 stopped at epoch 7 of 15 with
    0.84 test accuracy; watched from the peak it anneals to 0.98).
    """
    if schedule is None or isinstance(schedule, kr.PerformanceScheduling):
        return 0
    curves = schedule.schedule_for(args.epochs, steps_per_epoch, learning_rate)
    steps = np.arange(args.epochs * steps_per_epoch)
    rates = kr.schedules.evaluate(curves.learning_rate, steps)
    return int(np.argmax(rates)) // steps_per_epoch


def schedule_followed(
    callback, history, learning_rate, epochs, steps_per_epoch, steps_run
):
    """The learning rate (and momentum, or `None`) of every step the fit ran.

    `epochs` is the fit's `epochs` (what the schedule spans), `steps_run`
    the steps it ran (fewer after early stopping).

    A scheduling callback ran `callback.schedule_for(...)` inside the train
    step, so the same curves are evaluated at the same steps; otherwise the
    rate changed only between epochs (PerformanceScheduling) or never, and the
    epoch logs say what it was after each epoch.
    """
    if callback is None or isinstance(callback, kr.PerformanceScheduling):
        per_epoch = [learning_rate] + list(history.get("learning_rate", []))
        per_epoch += [per_epoch[-1]] * math.ceil(steps_run / steps_per_epoch)
        return np.repeat(per_epoch, steps_per_epoch)[:steps_run], None
    curves = callback.schedule_for(epochs, steps_per_epoch, learning_rate)
    steps = np.arange(steps_run)
    evaluate = kr.schedules.evaluate
    momenta = None if curves.momentum is None else evaluate(curves.momentum, steps)
    return evaluate(curves.learning_rate, steps), momenta


def run(args):
    """Runs `train` with parsed arguments; returns the exit status."""
    import keras  # Here: `train --help` does not import it.

    from keras_recipes.batches import ShuffledBatches
    from keras_recipes.optimizers import make_optimizer

    # Before anything is written; on --resume, the run's own arguments.
    args = claim_run_folder(args, build_parser())
    if args.smoke:
        args.epochs = 2
    # The schedule's flags are checked before anything is written.
    scheduling_callback_of(args, args.learning_rate or 1e-3)
    data = load_data(args)  # Checked before the run folder is made.
    if args.augment and (args.model == "mlp" or not data.is_image):
        raise UsageError(
            "--augment shifts and rotates images: it applies to --model cnn on "
            f"an image dataset. Received: --model {args.model}, --dataset "
            f"{args.dataset} ({'images' if data.is_image else 'features'})"
        )
    log_dir = start_run(args, "train")
    # The model's output i is the class classes[i] (the labels, sorted), and
    # the standardization: what `keras-recipes predict` needs besides it.
    write_inputs(log_dir, data)
    start = time.perf_counter()

    print(f"[1/5] data: {args.dataset}")
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
            data.x_train.shape[1:],
            data.num_classes,
            activation=args.activation,
            augment=args.augment,
        )
    else:
        model = kr.build_mlp(
            data.x_train.shape[1:], data.num_classes, activation=args.activation
        )
    model.compile(
        optimizer=make_optimizer("adam", 1e-3, **regularization_of(args)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )

    learning_rate, method, suggestions = args.learning_rate, "given", None
    chosen = read_chosen_rate(log_dir / LEARNING_RATE_FILE) if args.resume else None
    if chosen is not None:
        learning_rate, method = chosen["learning_rate"], chosen["learning_rate_from"]
        suggestions = chosen["suggestions"]
        print(f"[3/5] learning rate of the run resumed: {learning_rate:.3g} ({method})")
    elif learning_rate is None:
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
        plot_lr_finder(finder, log_dir / "lr_finder.png")
        method = suggestion_method(args.suggestion, args.schedule)
        suggestions = finder.suggestions
        learning_rate = suggestions.get(method)
        if learning_rate is None:  # The sweep found no such point.
            learning_rate, method = 1e-3, f"1e-3, no {method} suggestion"
        reason = finder.stopped_reason
        print(
            f"      suggested learning rate {learning_rate:.3g} ({method}; "
            f"sweep: {reason})"
        )
    else:
        print(f"[3/5] learning rate given: {learning_rate:g}")
    chosen = {
        "learning_rate": learning_rate,
        "learning_rate_from": method,
        "suggestions": suggestions,
    }
    write_json(log_dir / LEARNING_RATE_FILE, chosen)
    # The rate the optimizer starts from: what --schedule none and
    # performance train at (the other schedules are given it explicitly).
    model.optimizer.learning_rate = learning_rate

    print(f"[4/5] training {args.epochs} epochs, schedule {args.schedule}")
    # The in-graph schedules also write every update's rate (and momentum)
    # beside TensorBoard's epoch curves; performance scheduling changes the
    # rate between epochs only, which the epoch curves show.
    per_step = {}
    if args.schedule not in ("none", "performance"):
        per_step["log_dir"] = log_dir / "tensorboard" / "train"
    schedule = scheduling_callback_of(args, learning_rate, model.optimizer, **per_step)
    # Both watch the validation loss: continuous, where the accuracy of a few
    # hundred images moves in steps of a sample and ties keep an early epoch
    # (docs/benchmarks.md, time to target: 10 epochs on val_loss reached a
    # lower test loss and a higher test accuracy than 15 on val_accuracy).
    checkpoint = kr.BestCheckpoint(log_dir / "best" / "model.keras", monitor=MONITOR)
    steps_per_epoch = math.ceil(len(data.x_train) / args.batch_size)
    stopper = kr.EarlyStopping(
        MONITOR,
        patience=args.patience,
        start_from_epoch=peak_epoch(schedule, args, steps_per_epoch, learning_rate),
    )
    stateful = {"stopper": stopper, "checkpoint": checkpoint}
    if hasattr(schedule, "state_dict"):  # PerformanceScheduling's plateau.
        stateful["schedule"] = schedule
    # Every epoch's order is a function of (seed, epoch): a resumed fit
    # draws the batches an uninterrupted one would.
    batches = ShuffledBatches(data.x_train, data.y_train, args.batch_size, args.seed)
    history_csv = log_dir / "history.csv"
    if args.resume:
        keep_epochs_before(history_csv, log_dir / "backup")
    callbacks = [
        batches.follow_epochs(),
        stopper,
        checkpoint,
        keras.callbacks.CSVLogger(str(history_csv), append=args.resume),
        keras.callbacks.TensorBoard(str(log_dir / "tensorboard")),
        kr.ResumableBackup(log_dir / "backup", callbacks=stateful),
    ]
    if schedule is not None:
        callbacks.insert(0, schedule)
    model.fit(
        batches,
        validation_data=(data.x_val, data.y_val),
        epochs=args.epochs,
        shuffle=False,
        callbacks=callbacks,
        verbose=2,
    )
    # The whole run's epochs (a resumed fit returns its own only).
    history = read_history(history_csv)
    plot_learning_curves(
        history["loss"], history["val_loss"], log_dir / "learning_curves.png"
    )
    from keras_recipes._internal.driver import applying_optimizer

    iterations = applying_optimizer(model.optimizer).iterations
    steps_run = int(keras.ops.convert_to_numpy(iterations))
    rates, momenta = schedule_followed(
        schedule, history, learning_rate, args.epochs, steps_per_epoch, steps_run
    )
    write_schedule_csv(log_dir / "schedule.csv", rates, momenta, steps_per_epoch)
    logged = history.get("learning_rate")
    plot_schedule(
        rates,
        momenta,
        log_dir / "schedule.png",
        title=f"Schedule followed ({args.schedule})",
        logged=None
        if logged is None
        else (steps_per_epoch * np.arange(1, len(logged) + 1), logged),
    )

    print("[5/5] evaluating the best checkpoint on the test split")
    best_epoch = checkpoint.kept[0]["epoch"]  # 1-based, as history.csv's rows
    best = keras.models.load_model(checkpoint.best_path)
    test_loss, test_accuracy = best.evaluate(data.x_test, data.y_test, verbose=0)
    predicted = np.argmax(best.predict(data.x_test, verbose=0), axis=-1)
    # By the data's own labels (classes.json): output i is data.classes[i].
    per_class = {
        str(label): float(np.mean(predicted[data.y_test == i] == i))
        for i, label in enumerate(data.classes)
        if np.any(data.y_test == i)
    }
    metrics = {
        "test_loss": float(test_loss),
        "test_accuracy": float(test_accuracy),
        "test_accuracy_by_class": per_class,
        "best_val_loss": checkpoint.best,
        "best_val_accuracy": history["val_accuracy"][best_epoch - 1],
        "best_epoch": best_epoch,
        **chosen,
        "epochs_run": len(history["loss"]),
        "resumed": bool(args.resume),
        "seconds": time.perf_counter() - start,  # Of this process.
    }
    # Last, atomically: a run folder with metrics.json is a finished run.
    write_json(log_dir / "metrics.json", metrics)
    print(f"test accuracy: {test_accuracy:.4f}")
    print(f"run folder: {log_dir} (best model: {checkpoint.best_path})")
    print(f"TensorBoard: tensorboard --logdir {log_dir / 'tensorboard'}")
    return 0


def main(argv=None):
    """`keras-recipes train` / `python recipes/train.py`; returns the exit status."""
    return main_of(build_parser, run, argv)
