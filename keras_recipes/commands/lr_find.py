"""Find a learning rate with the LR range test, on the digits MLP or your data.

Builds a small He-initialized ReLU MLP (`keras_recipes.build_mlp`, what
`keras-recipes train --model mlp` trains) on scikit-learn's bundled digits
(or --dataset: a Keras dataset, a .npz or a .csv file), runs
`keras_recipes.find_learning_rate` (exponential sweep, fastai's defaults),
prints every suggestion and writes the curve as a plot and a CSV.

Usage:
    keras-recipes lr-find
    keras-recipes lr-find --optimizer adam --num-steps 200
    keras-recipes lr-find --dataset data.npz  # arrays x, y
    keras-recipes lr-find --smoke            # seconds, for the tests
    python recipes/find_lr.py ...            # the same, from a checkout

Writes to --log-dir (default runs/find_lr-<time>): args.json,
lr_finder.png, lr_finder.csv, suggestions.json.
"""

import json

import keras_recipes
from keras_recipes.commands.common import (
    add_batch_size,
    add_dataset,
    add_log_dir,
    add_seed,
    load_data,
    main_of,
    new_parser,
    positive_float,
    positive_int,
)
from keras_recipes.plots import plot_lr_finder
from keras_recipes.runs import start_run


def build_parser(parser=None):
    """Fills `parser` (or a new one) with the flags of `lr-find`."""
    parser = new_parser(parser, __doc__)
    parser.add_argument(
        "--optimizer",
        choices=("sgd", "adam"),
        default="sgd",
        help="SGD with momentum 0.9, or Adam",
    )
    add_batch_size(parser)
    parser.add_argument(
        "--min-learning-rate",
        type=positive_float,
        default=1e-7,
        help="learning rate of the sweep's first step",
    )
    parser.add_argument(
        "--max-learning-rate",
        type=positive_float,
        default=10.0,
        help="learning rate of the sweep's last step",
    )
    parser.add_argument(
        "--num-steps",
        type=positive_int,
        default=100,
        help="steps of the sweep (it stops early when the loss diverges)",
    )
    parser.add_argument(
        "--method",
        choices=("valley", "steep", "minimum", "slide"),
        default="valley",
        help="the suggestion to use (all four are printed)",
    )
    add_dataset(parser)
    add_log_dir(parser, "find_lr")
    add_seed(parser)
    parser.add_argument("--smoke", action="store_true", help="a 20-step sweep")
    return parser


def run(args):
    """Runs `lr-find` with parsed arguments; returns the exit status."""
    import keras  # Here: `lr-find --help` does not import it.

    if args.smoke:
        args.num_steps = 20
    data = load_data(args)  # Checked before the run folder is made.
    log_dir = start_run(args, "find_lr")

    model = keras_recipes.build_mlp(
        data.x_train.shape[1:], data.num_classes, hidden_layers=2, units=128
    )
    optimizer = (
        keras.optimizers.SGD(0.01, momentum=0.9)
        if args.optimizer == "sgd"
        else keras.optimizers.Adam(1e-3)
    )
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    # The sweep's flags bear the names of find_learning_rate's arguments.
    sweep = ("min_learning_rate", "max_learning_rate", "num_steps", "method")
    result = keras_recipes.find_learning_rate(
        model,
        data.x_train,
        data.y_train,
        batch_size=args.batch_size,
        **{name: getattr(args, name) for name in sweep},
    )
    plot = plot_lr_finder(result, log_dir / "lr_finder.png")
    curve = result.to_csv(log_dir / "lr_finder.csv")
    kept = ("suggestion", "method", "suggestions", "stopped_reason")
    summary = {name: getattr(result, name) for name in kept}
    (log_dir / "suggestions.json").write_text(json.dumps(summary, indent=2))
    for name, lr in result.suggestions.items():
        marker = "  <- default" if name == result.method else ""
        shown = "n/a" if lr is None else f"{lr:.3g}"
        print(f"  {name:8s} {shown}{marker}")
    if result.suggestion is None:
        print("suggested learning rate: none (the curve was too short)")
    else:
        print(f"suggested learning rate: {result.suggestion:.3g}")
    print(f"plot: {plot}\ncurve: {curve}")
    return 0


def main(argv=None):
    """`keras-recipes lr-find` / `python recipes/find_lr.py`; the exit status."""
    return main_of(build_parser, run, argv)
