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
tensorboard/, lr_finder.png, learning_curves.png, and schedule.png +
schedule.csv: the learning rate (and momentum) of every step the fit ran.

The same as `keras-recipes train` (keras_recipes/commands/train.py).
"""

import sys

from keras_recipes.commands.train import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
