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

The same as `keras-recipes diagnose` (keras_recipes/commands/diagnose.py).
"""

import sys

from keras_recipes.commands.diagnose import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
