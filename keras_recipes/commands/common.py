"""Shared by the commands: help formatting, flag types, schedule flags and CSV."""

import argparse
import csv
import sys
from pathlib import Path

# Constants only: the parsers are built without importing Keras.
from keras_recipes._internal.names import (
    EXPONENTIAL_DECAY_RATE,
    HIDDEN_ACTIVATIONS,
    MAX_MOMENTUM,
    MIN_MOMENTUM,
    ONE_CYCLE_SHAPES,
    SCHEDULE_NAMES,
)


class UsageError(ValueError):
    """A bad flag value or combination found after parsing (exit status 2).

    `main` of a command and `keras_recipes.cli.main` turn it into the
    parser's usage error, like the errors `argparse` finds itself.
    """


class HelpFormatter(
    argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter
):
    """The docstring as written, and every flag's default (unless `None`).

    A flag whose default is `None` says in its help what `None` stands for.
    """

    def _get_help_string(self, action):
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def new_parser(parser, doc):
    """Returns `parser` (a subparser to fill) or a new one, described by `doc`,
    with `--debug`."""
    if parser is None:
        parser = argparse.ArgumentParser()
    parser.description = doc
    parser.formatter_class = HelpFormatter
    parser.add_argument(
        "--debug",
        action="store_true",
        help="on an error, show the whole traceback instead of one line",
    )
    return parser


def summary(doc):
    """The first paragraph of a docstring, on one line."""
    return " ".join(doc.strip().split("\n\n")[0].split())


def main_of(build_parser, run, argv):
    """Parses `argv` with `build_parser()` and runs; `UsageError` exits with 2."""
    parser = build_parser()
    return run_parsed(parser, run, parser.parse_args(argv))


def run_parsed(parser, run, args):
    """`run(args)`; an error is one line and exit status 2 (argparse's way).

    A `UsageError` (a bad flag or data) is `parser`'s usage error. Any other
    error is printed as `PROG: error: Type: message`, unless `--debug` was
    given: then it propagates with its traceback.
    """
    try:
        return run(args)
    except UsageError as error:
        parser.error(str(error))  # Exits with status 2.
    except Exception as error:
        if getattr(args, "debug", False):
            raise
        message = " ".join(str(error).split()) or "(no message)"
        print(
            f"{parser.prog}: error: {type(error).__name__}: {message} "
            "(--debug shows the traceback)",
            file=sys.stderr,
        )
        return 2


def int_at_least(minimum):
    """An `argparse` type: an integer >= `minimum`."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"must be an integer >= {minimum}. Received: {text!r}"
            )
        return value

    parse.__name__ = f"int_at_least_{minimum}"
    return parse


positive_int = int_at_least(1)


def add_log_dir(parser, name):
    """`--log-dir`: the run folder, by default `runs/<name>-<time>`."""
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=None,
        help=f"run folder (default: runs/{name}-<time>)",
    )


def add_batch_size(parser):
    """`--batch-size`: samples per step, 32 by default."""
    parser.add_argument(
        "--batch-size", type=positive_int, default=32, help="samples per step"
    )


def add_seed(parser, help="seed of Python, NumPy and the backend"):
    """`--seed`, 0 by default: the run draws the same numbers each time."""
    parser.add_argument("--seed", type=int, default=0, help=help)


def add_dataset(parser):
    """`--dataset` (a name `keras_recipes.data.load_dataset` knows, or a file)
    and `--label-column` (a CSV file's label column)."""
    parser.add_argument(
        "--dataset",
        default="digits",
        help="digits, mnist, fashion_mnist, cifar10, or a .npz (arrays x, y) / "
        ".csv file (a header, numeric features, a label column); labels of any "
        "kind (e.g. 1..N, strings) are mapped to classes 0..C-1, saved in "
        "classes.json",
    )
    parser.add_argument(
        "--label-column",
        default="label",
        help="the label column of a .csv --dataset",
    )


def load_data(args):
    """`load_dataset` with the flags of `add_dataset`, run before the run
    folder is made: bad data is a `UsageError` (one line, status 2) and leaves
    no folder behind."""
    from keras_recipes.data import load_dataset

    try:
        return load_dataset(
            args.dataset, label_column=args.label_column, seed=args.seed
        )
    except ValueError as error:
        raise UsageError(f"--dataset {args.dataset}: {error}") from None


def add_activation(parser):
    """`--activation`: a hidden activation the builders pair an initializer with."""
    parser.add_argument(
        "--activation",
        default="relu",
        choices=HIDDEN_ACTIVATIONS,
        metavar="ACTIVATION",
        help="hidden activation, one of: "
        + ", ".join(HIDDEN_ACTIVATIONS)
        + "; the initializer follows it (He, LeCun, Glorot)",
    )


def positive_float(text):
    """`argparse` type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0 < value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a number > 0. Received: {text!r}")
    return value


def non_negative_float(text):
    """`argparse` type: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0 <= value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a number >= 0. Received: {text!r}")
    return value


def add_regularization(parser):
    """`--weight-decay` (AdamW) and `--clipnorm` / `--global-clipnorm`:
    Keras's own, passed to `keras_recipes.optimizers.make_optimizer`."""
    parser.add_argument(
        "--weight-decay",
        type=non_negative_float,
        default=0.0,
        help="decoupled weight decay (AdamW instead of Adam); 0: none",
    )
    clipping = parser.add_mutually_exclusive_group()
    clipping.add_argument(
        "--clipnorm",
        type=positive_float,
        default=None,
        help="clip each variable's gradient to this norm",
    )
    clipping.add_argument(
        "--global-clipnorm",
        type=positive_float,
        default=None,
        help="clip all gradients together to this global norm",
    )


def regularization_of(args):
    """`make_optimizer`'s keyword arguments from `add_regularization`'s flags."""
    return {
        "weight_decay": args.weight_decay,
        "clipnorm": args.clipnorm,
        "global_clipnorm": args.global_clipnorm,
    }


def _flag(name, applies_to, help, **keywords):
    """One schedule flag: its name, the schedules it applies to, and the
    keywords of `add_argument`."""
    return name, applies_to, {"help": help, **keywords}


_ONE_CYCLE, _POWER, _EXPONENTIAL = ("one-cycle",), ("power",), ("exponential",)
_PIECEWISE = ("piecewise",)
# The schedule-specific flags, by group. Left out, a flag takes `train`'s
# default (`keras_recipes.schedules.recipe_defaults`).
_SCHEDULE_FLAGS = {
    "one-cycle (OneCycle)": (
        _flag(
            "--shape",
            _ONE_CYCLE,
            "cosine annealing (fastai) or Smith's three linear phases "
            "(default: cosine)",
            choices=ONE_CYCLE_SHAPES,
        ),
        _flag(
            "--pct-start",
            _ONE_CYCLE,
            "fraction of the steps spent rising (default: 0.3 cosine, 0.45 linear)",
            type=float,
        ),
        _flag(
            "--div-factor",
            _ONE_CYCLE,
            "start = learning rate / div_factor (default: 25 cosine, 10 linear)",
            type=positive_float,
        ),
        _flag(
            "--final-div-factor",
            _ONE_CYCLE,
            "end = start / final_div_factor (default: 1e4 cosine, 1e3 linear)",
            type=positive_float,
        ),
        _flag(
            "--max-momentum",
            _ONE_CYCLE,
            f"momentum at the ends of the cycle (default: {MAX_MOMENTUM})",
            type=float,
        ),
        _flag(
            "--min-momentum",
            _ONE_CYCLE,
            f"momentum at the peak learning rate (default: {MIN_MOMENTUM})",
            type=float,
        ),
    ),
    "power and exponential decay": (
        _flag(
            "--decay-epochs",
            _POWER + _EXPONENTIAL,
            "decay_steps in epochs (default: epochs / 4 for power, epochs for "
            "exponential)",
            type=positive_float,
        ),
        _flag(
            "--power", _POWER, "power: the exponent c, >= 0 (default: 1)", type=float
        ),
        _flag(
            "--decay-rate",
            _EXPONENTIAL,
            "exponential: factor per decay_steps, in (0, 1] "
            f"(default: {EXPONENTIAL_DECAY_RATE})",
            type=float,
        ),
        _flag(
            "--staircase",
            _EXPONENTIAL,
            "exponential: decay in whole steps of decay_steps",
            action="store_true",
        ),
    ),
    "piecewise constant": (
        _flag(
            "--boundaries",
            _PIECEWISE,
            "increasing epochs at which the rate changes (default: epochs / 2, "
            "3 * epochs / 4)",
            type=float,
            nargs="+",
            metavar="EPOCH",
        ),
        _flag(
            "--values",
            _PIECEWISE,
            "learning rates, one more than --boundaries (default: the learning "
            "rate, / 10, / 100)",
            type=positive_float,
            nargs="+",
            metavar="RATE",
        ),
    ),
}


def add_schedule(parser, default="one-cycle"):
    """`--schedule` and the options of each schedule, the same for `train`
    and the preview (`keras-recipes schedule`): what one previews, the other
    trains with. Left out, an option takes `train`'s default for the schedule
    (`keras_recipes.schedules.recipe_defaults`)."""
    parser.add_argument(
        "--schedule",
        choices=SCHEDULE_NAMES,
        default=default,
        help="learning-rate schedule (none: the learning rate throughout)",
    )
    for title, flags in _SCHEDULE_FLAGS.items():
        group = parser.add_argument_group(title)
        for flag, _, keywords in flags:
            group.add_argument(flag, **{"default": None, **keywords})


def schedule_options(args):
    """The options `add_schedule`'s flags give, for `scheduling_callback`.

    Raises:
        UsageError: For a flag given to a schedule it does not apply to.
    """
    options = {}
    for flag, schedules, _ in (f for group in _SCHEDULE_FLAGS.values() for f in group):
        dest = flag.removeprefix("--").replace("-", "_")
        value = getattr(args, dest)
        if value is None or value is False:
            continue
        if args.schedule not in schedules:
            shown = " ".join(map(str, value)) if isinstance(value, list) else value
            raise UsageError(
                f"{flag} applies to --schedule {' or '.join(schedules)}. "
                f"Received: --schedule {args.schedule} {flag} {shown}"
            )
        options[dest] = value
    return options


def scheduling_callback_of(args, learning_rate, optimizer=None, **kwargs):
    """`keras_recipes.scheduling_callback` with the flags of `add_schedule`.

    Raises:
        UsageError: If the flags do not make a valid schedule (the library's
            message).
    """
    from keras_recipes.callbacks.by_name import scheduling_callback  # Keras.

    options = schedule_options(args)
    try:
        return scheduling_callback(
            args.schedule, learning_rate, args.epochs, optimizer, **kwargs, **options
        )
    except (TypeError, ValueError) as error:
        raise UsageError(f"--schedule {args.schedule}: {error}") from error


def write_schedule_csv(path, learning_rates, momenta, steps_per_epoch):
    """One row per optimizer step: step, epoch (from 1), learning_rate[, momentum]."""
    path = Path(path)
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        header = ["step", "epoch", "learning_rate"]
        writer.writerow(header + (["momentum"] if momenta is not None else []))
        for step, rate in enumerate(learning_rates):
            row = [step, step // steps_per_epoch + 1, repr(float(rate))]
            if momenta is not None:
                row.append(repr(float(momenta[step])))
            writer.writerow(row)
    return path
