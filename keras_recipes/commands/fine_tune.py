"""Fine-tune a pretrained model on your data: a new head, then all of it.

`keras_recipes.fine_tuning.fine_tune` on a dataset: the base (a saved
.keras model, e.g. the best checkpoint of `keras-recipes train`, or
`applications:NAME` from keras.applications, which downloads its ImageNet
weights once) gets a new softmax head for the dataset's classes; stage 1
trains the head alone on the frozen base (LR range test, 1cycle), stage 2
unfreezes the base (batch norm aside) and trains all of it with
discriminative learning rates, from --lowest-multiplier for the first
layer up to the head's rate. Each stage keeps its best checkpoint, stops
early and backs up every epoch.

The features are standardized as `keras-recipes train` does (the training
split's statistics), so a base trained by `train` on the same kind of data
sees what it was trained on.

Usage:
    keras-recipes fine-tune --base runs/digits/best/model-epoch012.keras \\
        --dataset new.npz --log-dir runs/fine-tune
    keras-recipes fine-tune --base applications:MobileNetV2 --dataset cifar10
    keras-recipes fine-tune --resume --log-dir runs/fine-tune   # its own --base
    python recipes/fine_tune.py ...       # the same, from a checkout

One run folder (--log-dir, default runs/fine_tune-<time>) holds args.json,
classes.json and inputs.npz (so `keras-recipes predict --run-dir` works on
it), head/ and fine_tune/ (each: best/, history.json, state.json, backup/
while it runs), learning_curves.png and schedule.png / schedule.csv (both
stages, step by step) and metrics.json (test
accuracy, rates, multipliers; written last: a folder with it is finished).
"""

import math
import time

import numpy as np

from keras_recipes.commands.common import (
    UsageError,
    add_batch_size,
    add_dataset,
    add_log_dir,
    add_regularization,
    add_seed,
    int_at_least,
    load_data,
    main_of,
    new_parser,
    positive_float,
    positive_int,
    regularization_of,
    write_schedule_csv,
)
from keras_recipes.runs import add_run_folder


def layer_count(text):
    """argparse type: a count of layers >= 1, or `all` (None)."""
    if text == "all":
        return None
    return positive_int(text)


def build_parser(parser=None):
    """Fills `parser` (or a new one) with the flags of `fine-tune`."""
    parser = new_parser(parser, __doc__)
    parser.add_argument(
        "--base",
        default=None,
        help="a saved .keras model, or applications:NAME (keras.applications); "
        "needed, but --resume takes the run's",
    )
    add_dataset(parser)
    parser.add_argument(
        "--features-layer",
        default=None,
        help="the base's layer whose output feeds the new head (default: the "
        "input of its last layer, i.e. below its old head)",
    )
    parser.add_argument("--head-epochs", type=positive_int, default=3,
                        help="epochs of stage 1 (the head alone)")  # fmt: skip
    parser.add_argument(
        "--epochs", type=int_at_least(0), default=10, help="epochs of stage 2 (0: none)"
    )
    parser.add_argument(
        "--lowest-multiplier",
        type=positive_float,
        default=0.01,
        help="stage 2: the first layer's rate as a fraction of the head's",
    )
    parser.add_argument(
        "--unfreeze",
        type=layer_count,
        nargs="+",
        default=None,
        help="stage 2 trains the base's last N layers with weights (default: "
        "all); several counts unfreeze gradually, a stage each (e.g. 2 4 all)",
    )
    parser.add_argument(
        "--augment", action="store_true", help="shifts, rotations, zooms in training"
    )
    add_regularization(parser)
    add_batch_size(parser)
    add_log_dir(parser, "fine_tune")
    add_seed(parser)
    parser.add_argument(
        "--smoke", action="store_true", help="seconds: 1 epoch per stage"
    )
    add_run_folder(parser)
    return parser


def run(args):
    """Runs `fine-tune` with parsed arguments; returns the exit status."""
    import keras

    from keras_recipes._internal.atomic import write_json
    from keras_recipes.fine_tuning import fine_tune
    from keras_recipes.models.transfer import load_base
    from keras_recipes.plots import plot_learning_curves, plot_schedule
    from keras_recipes.runs import claim_run_folder, start_run
    from keras_recipes.trained import write_inputs

    args = claim_run_folder(args, build_parser())
    if args.base is None:
        raise UsageError("--base is needed: a saved .keras model or applications:NAME")
    if args.smoke:
        args.head_epochs, args.epochs = 1, 1
    if args.lowest_multiplier > 1:
        raise UsageError(
            f"--lowest-multiplier must be in (0, 1]. Received: {args.lowest_multiplier}"
        )
    data = load_data(args)  # Checked before the run folder is made.
    try:
        base = load_base(args.base)
    except (ValueError, OSError) as error:
        raise UsageError(f"--base {args.base}: {error}") from None
    log_dir = start_run(args, "fine_tune")
    write_inputs(log_dir, data)
    start = time.perf_counter()
    print(
        f"fine-tune {args.base} on {args.dataset}: {len(data.x_train)} train / "
        f"{len(data.x_val)} validation / {len(data.x_test)} test, "
        f"{data.num_classes} classes, backend {keras.backend.backend()}"
    )
    try:
        result = fine_tune(
            base, data.x_train, data.y_train,
            validation_data=(data.x_val, data.y_val), num_classes=data.num_classes,
            features_layer=args.features_layer, head_epochs=args.head_epochs,
            epochs=args.epochs, lowest_multiplier=args.lowest_multiplier,
            unfreeze=args.unfreeze, augment=args.augment, **regularization_of(args),
            batch_size=args.batch_size, log_dir=log_dir, seed=args.seed,
            verbose=2,
        )  # fmt: skip
    except ValueError as error:
        if any(name in str(error) for name in ("features_layer", "class ids",
                                                "`unfreeze`")):  # fmt: skip
            raise UsageError(str(error)) from None
        raise
    histories = [result.histories[stage] for stage in ("head", "fine_tune")
                 if stage in result.histories]  # fmt: skip
    plot_learning_curves(
        [v for h in histories for v in h.get("loss", [])],
        [v for h in histories for v in h.get("val_loss", [])],
        log_dir / "learning_curves.png",
    )
    stages = list(result.schedules.values())
    rates = np.concatenate([rates for rates, _ in stages])
    momenta = np.concatenate([m for _, m in stages])
    steps_per_epoch = math.ceil(len(data.x_train) / args.batch_size)
    write_schedule_csv(log_dir / "schedule.csv", rates, momenta, steps_per_epoch)
    title = "Schedule followed: the head's 1cycle, then the whole model's"
    plot_schedule(rates, momenta, log_dir / "schedule.png", title=title)
    test_loss, test_accuracy = result.model.evaluate(
        data.x_test, data.y_test, verbose=0
    )[:2]
    metrics = {
        "test_loss": float(test_loss),
        "test_accuracy": float(test_accuracy),
        "learning_rates": result.learning_rates,
        "multipliers": result.multipliers,
        "epochs_run": {
            stage: len(h.get("loss", [])) for stage, h in result.histories.items()
        },  # fmt: skip
        "best": {stage: str(path) for stage, path in result.best_paths.items()},
        "seconds": time.perf_counter() - start,
    }
    write_json(log_dir / "metrics.json", metrics)  # Last: the run is finished.
    print(f"test accuracy: {test_accuracy:.4f}")
    print(f"run folder: {log_dir}")
    return 0


def main(argv=None):
    """`keras-recipes fine-tune` / `python recipes/fine_tune.py`; returns the
    exit status."""
    return main_of(build_parser, run, argv)
