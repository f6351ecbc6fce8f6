"""Preview a learning-rate schedule as a table and a plot, without training.

The script form of `keras-recipes schedule` (the code is
`keras_recipes/commands/schedule.py`). Its flags, their defaults and what it
writes: `python recipes/plot_schedule.py --help`.
"""

import sys

from keras_recipes.commands.schedule import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
