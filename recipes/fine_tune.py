"""Fine-tune a pretrained model on your data: a new head, then all of it.

The script form of `keras-recipes fine-tune` (the code is
`keras_recipes/commands/fine_tune.py`). Its flags, their defaults and what it
writes: `python recipes/fine_tune.py --help`.
"""

import sys

from keras_recipes.commands.fine_tune import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
