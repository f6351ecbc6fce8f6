"""Predict labels with a finished train run, on its test split or new data.

The script form of `keras-recipes predict` (the code is
`keras_recipes/commands/predict.py`). Its flags, their defaults and what it
writes: `python recipes/predict.py --help`.
"""

import sys

from keras_recipes.commands.predict import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
