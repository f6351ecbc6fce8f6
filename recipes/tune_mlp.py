"""Tune the paired MLP with KerasTuner, on the embedded digits or your data.

Usage:
    python recipes/tune_mlp.py                        # digits, random search
    python recipes/tune_mlp.py --algorithm hyperband --epochs 27
    python recipes/tune_mlp.py --smoke                # seconds, for the tests
    python recipes/tune_mlp.py --log-dir /shared/s --tuner-id chief \\
        --oracle-ip 10.0.0.1 --oracle-port 8000       # distributed: the chief
    python recipes/tune_mlp.py --log-dir /shared/s --tuner-id tuner0 \\
        --oracle-ip 10.0.0.1 --oracle-port 8000       # and each worker

The same as `keras-recipes tune` (keras_recipes/commands/tune.py; `--help`
lists every flag).
"""

import sys

from keras_recipes.commands.tune import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
