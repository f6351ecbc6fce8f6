"""Find a learning rate for the digits MLP with the LR range test.

Builds a small He-initialized ReLU MLP (`keras_recipes.build_mlp`, what
`recipes/train.py --model mlp` trains) on scikit-learn's bundled digits, runs
`keras_recipes.find_learning_rate` (exponential sweep, fastai's defaults),
prints every suggestion and writes the curve as a plot and a CSV.

Usage:
    python recipes/find_lr.py
    python recipes/find_lr.py --optimizer adam --num-steps 200
    python recipes/find_lr.py --smoke            # seconds, for the tests

Writes to --log-dir (default runs/find_lr-<time>): args.json,
lr_finder.png, lr_finder.csv, suggestions.json.

The same as `keras-recipes lr-find` (keras_recipes/commands/lr_find.py).
"""

import sys

from keras_recipes.commands.lr_find import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
