"""Preview a learning-rate schedule as a table and a plot, without training.

Prints the learning rate (and momentum, for one-cycle) at the start of every
epoch of the schedule that `recipes/train.py --schedule NAME` would follow,
and writes the curve of every step as a plot and a CSV.

Usage:
    python recipes/plot_schedule.py                       # one-cycle
    python recipes/plot_schedule.py --schedule power --decay-epochs 5
    python recipes/plot_schedule.py --schedule piecewise --boundaries 5 15 \\
        --values 0.1 0.01 0.001
    python recipes/plot_schedule.py --smoke               # for the tests

Writes to --log-dir (default runs/schedule-<time>): args.json, schedule.png,
schedule.csv.

The same as `keras-recipes schedule` (keras_recipes/commands/schedule.py).
"""

import sys

from keras_recipes.commands.schedule import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
