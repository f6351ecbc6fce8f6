"""Tune the paired MLP with KerasTuner, alone or as a chief / worker of a
distributed search.

The script form of `keras-recipes tune` (the code is
`keras_recipes/commands/tune.py`). Its flags, their defaults and what it
writes: `python recipes/tune_mlp.py --help`.
"""

import sys

from keras_recipes.commands.tune import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
