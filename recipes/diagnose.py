"""Diagnose the training of the digits MLP step by step.

The script form of `keras-recipes diagnose` (the code is
`keras_recipes/commands/diagnose.py`). Its flags, their defaults and what it
writes: `python recipes/diagnose.py --help`.
"""

import sys

from keras_recipes.commands.diagnose import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
