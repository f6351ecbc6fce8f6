"""The main recipe: train a classifier the recommended way (paired
initializer, LR range test, 1cycle, best checkpoint, early stopping,
TensorBoard) on the embedded digits or your data.

The script form of `keras-recipes train` (the code is
`keras_recipes/commands/train.py`). Its flags, their defaults and what it
writes: `python recipes/train.py --help`.
"""

import sys

from keras_recipes.commands.train import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
