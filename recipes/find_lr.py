"""Find a learning rate with the LR range test, on the digits MLP.

The script form of `keras-recipes lr-find` (the code is
`keras_recipes/commands/lr_find.py`). Its flags, their defaults and what it
writes: `python recipes/find_lr.py --help`.
"""

import sys

from keras_recipes.commands.lr_find import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
