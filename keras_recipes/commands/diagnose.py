"""Diagnose training of the digits MLP (or one on your data) step by step.

Runs `keras_recipes.diagnose.diagnose`: the initial loss against log C, an
overfitting check on a few batches, the LR range test, a coarse-to-fine search
over learning rate and weight decay, and learning curves with a verdict. The
model given is not trained; every step works on a copy.

Usage:
    keras-recipes diagnose
    keras-recipes diagnose --activation selu --hidden-layers 4
    keras-recipes diagnose --dataset data.csv  # a `label` column
    keras-recipes diagnose --smoke            # seconds, for the tests
    python recipes/diagnose.py ...            # the same, from a checkout

Writes to --log-dir (default runs/diagnose-<time>): args.json, report.md,
report.json, lr_finder.png, learning_curves.png.
"""

import keras_recipes
from keras_recipes.commands.common import (
    add_activation,
    add_batch_size,
    add_dataset,
    add_log_dir,
    add_seed,
    load_data,
    main_of,
    new_parser,
    positive_int,
)
from keras_recipes.runs import start_run


def build_parser(parser=None):
    """Fills `parser` (or a new one) with the flags of `diagnose`."""
    parser = new_parser(parser, __doc__)
    parser.add_argument(
        "--hidden-layers",
        type=positive_int,
        default=2,
        help="hidden layers of the MLP",
    )
    parser.add_argument(
        "--units", type=positive_int, default=128, help="units per hidden layer"
    )
    add_activation(parser)
    add_batch_size(parser)
    parser.add_argument(
        "--epochs",
        type=positive_int,
        default=20,
        help="epochs of the final learning-curve run",
    )
    parser.add_argument(
        "--search-epochs",
        type=positive_int,
        default=3,
        help="epochs per trial of the learning-rate / weight-decay search",
    )
    add_dataset(parser)
    add_log_dir(parser, "diagnose")
    add_seed(parser)
    parser.add_argument(
        "--smoke", action="store_true", help="a seconds-long run (3 + 1 epochs)"
    )
    return parser


def run(args):
    """Runs `diagnose` with parsed arguments; returns the exit status."""
    import keras  # Here: `diagnose --help` does not import it.

    from keras_recipes.diagnose import diagnose

    if args.smoke:
        args.epochs, args.search_epochs = 3, 1
    data = load_data(args)  # Checked before the run folder is made.
    log_dir = start_run(args, "diagnose")

    model = keras_recipes.build_mlp(
        data.x_train.shape[1:],
        data.num_classes,
        hidden_layers=args.hidden_layers,
        units=args.units,
        activation=args.activation,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    result = diagnose(
        model,
        data.x_train,
        data.y_train,
        (data.x_val, data.y_val),
        output_dir=log_dir,
        batch_size=args.batch_size,
        search_epochs=args.search_epochs,
        final_epochs=args.epochs,
        overfit_epochs=50 if args.smoke else 200,
    )
    passed = sum(step.ok for step in result.steps)
    print(
        f"{passed}/{len(result.steps)} checks passed; verdict: {result.verdict}; "
        f"best learning rate {result.best_learning_rate:.3g}, weight decay "
        f"{result.best_weight_decay:g}"
    )
    return 0


def main(argv=None):
    """`keras-recipes diagnose` / `python recipes/diagnose.py`; the exit status."""
    return main_of(build_parser, run, argv)
