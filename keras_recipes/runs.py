"""Run folders for the recipes: one folder per run, its arguments first."""

import csv
import json
import math
import shutil
import time
from pathlib import Path

from keras_recipes._internal.atomic import StateFileError, atomic_path, read_json
from keras_recipes.commands.common import UsageError

ARGS_FILE = "args.json"
# Flags that say how to run, not what: a resumed run may differ in them.
HOW_FLAGS = ("resume", "overwrite", "debug", "log_dir", "command")


def add_run_folder(parser):
    """`--resume` / `--overwrite` (one or the other): what `claim_run_folder`
    lets a command do with a `--log-dir` that holds a run."""
    folder = parser.add_mutually_exclusive_group()
    folder.add_argument(
        "--resume",
        action="store_true",
        help="continue the killed run in --log-dir, with its own arguments",
    )
    folder.add_argument(
        "--overwrite",
        action="store_true",
        help="delete the run in --log-dir and start over",
    )


def claim_run_folder(args, parser, finished_file="metrics.json"):
    """Checks what a run may do with `args.log_dir`, before anything is written.

    A folder that holds files is an earlier run: it is refused unless
    `args.resume` (continue it) or `args.overwrite` (start over) is set.
    With `resume`, the run's own arguments (`args.json`) are the ones used: a
    flag given with another value than the run's is refused, and one left at
    its default takes the run's value.

    Args:
        args: The parsed arguments (`log_dir`, `resume`, `overwrite`).
        parser: The command's parser (for the defaults of its flags).
        finished_file: A file that only a finished run has.

    Returns:
        `args`, with the run's arguments on resume.

    Raises:
        UsageError: Naming the folder and the way out.
    """
    folder = args.log_dir
    held = folder is not None and folder.is_dir() and any(folder.iterdir())
    if held and not (folder / ARGS_FILE).is_file():
        # Not a run folder: --overwrite must never delete someone's files.
        raise UsageError(
            f"--log-dir {folder} is not empty and holds no run (no {ARGS_FILE}); "
            "choose a new or empty folder"
        )
    if not args.resume:
        if held and not args.overwrite:
            raise UsageError(
                f"--log-dir {folder} holds an earlier run; pass --resume to "
                "continue it, --overwrite to delete it and start over, or "
                "choose another folder"
            )
        return args
    if folder is None:
        raise UsageError("--resume needs the --log-dir of the run to continue")
    if not held:
        raise UsageError(
            f"--resume: {folder} holds no run to continue (no {ARGS_FILE})"
        )
    if (folder / finished_file).is_file():
        raise UsageError(
            f"--resume: the run in {folder} finished ({finished_file}); there is "
            "nothing to continue. --overwrite starts it over"
        )
    try:
        saved = read_json(folder / ARGS_FILE)
    except StateFileError as error:
        raise UsageError(str(error)) from None
    if not isinstance(saved, dict):
        raise UsageError(
            f"--resume: {folder / ARGS_FILE} holds a {type(saved).__name__}, not "
            "the run's arguments; --overwrite starts the run over"
        )
    defaults = vars(parser.parse_args([]))
    resumed = dict(vars(args))
    for name, value in saved.items():
        if name in HOW_FLAGS or name not in resumed:
            continue
        given = resumed[name]
        if given != defaults.get(name) and _text(given) != _text(value):
            flag = "--" + name.replace("_", "-")
            raise UsageError(
                f"--resume continues the run with its own arguments ({ARGS_FILE}); "
                f"{flag} {_text(given)} differs from the run's {_text(value)}. "
                "Leave it out, or --overwrite to start over"
            )
        resumed[name] = Path(value) if isinstance(given, Path) else value
    return type(args)(**resumed)


def _text(value):
    return str(value) if isinstance(value, Path) else json.dumps(value)


def start_run(args, name, args_file=ARGS_FILE):
    """Creates the run folder, writes the resolved arguments, seeds everything.

    With `args.overwrite` (checked by `claim_run_folder`), the folder's
    earlier content is deleted first; with `args.resume`, its `args.json`
    stays as it is.

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
    if getattr(args, "overwrite", False) and folder.is_dir():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not getattr(args, "resume", False):
        resolved = {
            k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
        }
        (folder / args_file).write_text(json.dumps(resolved, indent=2))
    keras.utils.set_random_seed(args.seed)
    return folder


def keep_epochs_before(history_csv, backup_dir):
    """On resume, drops the rows of `history.csv` that the resumed fit will
    run again (the epochs from the backup's on: a kill after an epoch's row
    and before the next backup would write that row twice)."""
    state = read_json(backup_dir / "state.json")
    first = state.get("epoch", 0) if isinstance(state, dict) else 0
    if not isinstance(first, int):  # ResumableBackup refuses it, naming it.
        return
    if not history_csv.is_file():
        return
    with open(history_csv, newline="") as file:
        rows = list(csv.reader(file))
    kept = rows[:1] + [row for row in rows[1:] if row and int(row[0]) < first]
    with atomic_path(history_csv) as tmp:
        with open(tmp, "w", newline="") as file:
            csv.writer(file).writerows(kept if len(kept) > 1 else [])


def read_chosen_rate(path):
    """The learning rate a resumed run trained at (`learning_rate.json`), or
    `None` if the run was killed before choosing it."""
    chosen = read_json(path, fix=f"Delete {path}: --resume then runs the LR finder.")
    if chosen is None:
        return None
    rate = chosen.get("learning_rate") if isinstance(chosen, dict) else None
    if not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate > 0):
        raise StateFileError(
            f"{path} cannot be trusted: `learning_rate` must be a positive "
            f"number, got {rate!r}. Delete it: --resume then runs the LR finder."
        )
    return {"learning_rate_from": "?", "suggestions": None, **chosen}


def read_history(history_csv):
    """`history.csv` as `{key: [value per epoch]}` (what `fit` returns)."""
    with open(history_csv, newline="") as file:
        rows = list(csv.DictReader(file))
    keys = [key for key in (rows[0] if rows else {}) if key != "epoch"]
    return {key: [float(row[key]) for row in rows] for key in keys}
