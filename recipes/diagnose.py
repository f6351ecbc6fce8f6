"""Diagnose training of the digits MLP (or your own) step by step.

Runs `keras_recipes.diagnose.diagnose`: the initial loss against log C, an
overfitting check on a few batches, the LR range test, a coarse-to-fine search
over learning rate and weight decay, and learning curves with a verdict. The
model given is not trained; every step works on a copy.

Usage:
    python recipes/diagnose.py
    python recipes/diagnose.py --activation selu --hidden-layers 4
    python recipes/diagnose.py --smoke            # seconds, for the tests

Writes to --log-dir (default runs/diagnose-<time>): args.json, report.md,
report.json, lr_finder.png, learning_curves.png.
"""

import argparse
import sys
from pathlib import Path

import keras

import keras_recipes
from keras_recipes.data import load_digits
from keras_recipes.diagnose import diagnose
from keras_recipes.runs import start_run


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--hidden-layers", type=int, default=2)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--activation", default="relu")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=20, help="learning-curve run")
    parser.add_argument("--search-epochs", type=int, default=3)
    parser.add_argument("--dataset", choices=("digits",), default="digits")
    parser.add_argument("--log-dir", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="a seconds-long run")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.smoke:
        args.epochs, args.search_epochs = 3, 1
    log_dir = start_run(args, "diagnose")

    data = load_digits(seed=args.seed)
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


if __name__ == "__main__":
    sys.exit(main())
