"""Run folders for the recipes: one folder per run, its arguments first."""

import json
import time
from pathlib import Path


def start_run(args, name, args_file="args.json"):
    """Creates the run folder, writes the resolved arguments, seeds everything.

    Args:
        args: The parsed `argparse.Namespace`; its `log_dir` (or `None`, for
            `runs/<name>-<time>`) and `seed` are used.
        name: The recipe's name, for the default folder.
        args_file: The file name for the arguments (a distributed search's
            workers each write their own).

    Returns:
        The run folder, as a `pathlib.Path`.
    """
    import keras  # Here: the parsers are built without it.

    folder = args.log_dir or Path("runs") / time.strftime(f"{name}-%Y%m%d-%H%M%S")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    resolved = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    (folder / args_file).write_text(json.dumps(resolved, indent=2))
    keras.utils.set_random_seed(args.seed)
    return folder
