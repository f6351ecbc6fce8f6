"""Shared by the commands: help formatting, flag types, schedule curves."""

import argparse
import csv
from pathlib import Path

import numpy as np

from keras_recipes.models.pairing import INITIALIZERS

# The activations the builders pair with an initializer, by name, for hidden
# layers (PReLU is a layer, not a name; softmax and linear are for outputs).
HIDDEN_ACTIVATIONS = tuple(
    name for name in INITIALIZERS if name not in ("prelu", "softmax", "linear")
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
    """Returns `parser` (a subparser to fill) or a new one, described by `doc`."""
    if parser is None:
        parser = argparse.ArgumentParser()
    parser.description = doc
    parser.formatter_class = HelpFormatter
    return parser


def summary(doc):
    """The first paragraph of a docstring, on one line."""
    return " ".join(doc.strip().split("\n\n")[0].split())


def main_of(build_parser, run, argv):
    """Parses `argv` with `build_parser()` and runs; `UsageError` exits with 2."""
    parser = build_parser()
    return run_parsed(parser, run, parser.parse_args(argv))


def run_parsed(parser, run, args):
    """`run(args)`, with a `UsageError` reported as `parser`'s usage error."""
    try:
        return run(args)
    except UsageError as error:
        parser.error(str(error))  # Exits with status 2.


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


def add_dataset(parser):
    """`--dataset`: a name `keras_recipes.data.load_dataset` knows, or a file."""
    parser.add_argument(
        "--dataset",
        default="digits",
        help="digits, mnist, fashion_mnist, cifar10, or a .npz / .csv file",
    )


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


def learning_rates_of(schedule, steps):
    """A `LearningRateSchedule`'s learning rate at each of `steps`, in NumPy.

    Schedules with an `xp` argument (`OneCycleSchedule`) are evaluated in
    NumPy; the others are called on float32 steps (as the scheduling
    callbacks call them inside the train step) and converted: on one tensor
    of all the steps, except on PyTorch, where Keras's
    `PiecewiseConstantDecay` cannot take a vector (it adds into a 0-d tensor
    in place), so there each step is its own call (~0.1 ms a step).
    """
    import keras
    from keras import ops

    from keras_recipes.schedules import OneCycleSchedule

    steps = np.asarray(steps, dtype="float32")
    if isinstance(schedule, OneCycleSchedule):
        values = schedule(steps, xp=np)
    elif keras.backend.backend() == "torch":
        values = [
            float(ops.convert_to_numpy(schedule(ops.convert_to_tensor(step))))
            for step in steps
        ]
    else:
        values = ops.convert_to_numpy(schedule(ops.convert_to_tensor(steps)))
    return np.broadcast_to(np.asarray(values, dtype="float64"), steps.shape).copy()


def momenta_of(callback, steps):
    """The momentum a scheduling callback drives at each of `steps`, or `None`.

    Only `OneCycle` (with `cycle_momentum`) drives it.
    """
    from keras_recipes.callbacks import OneCycle

    if not isinstance(callback, OneCycle) or not callback.cycle_momentum:
        return None
    momenta = callback.schedule.momentum(
        np.asarray(steps, dtype="float32"),
        max_momentum=callback.max_momentum,
        min_momentum=callback.min_momentum,
        xp=np,
    )
    return np.asarray(momenta, dtype="float64")


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
