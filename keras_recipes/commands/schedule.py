"""Preview a learning-rate schedule as a table and a plot, without training.

Builds the schedule that `keras-recipes train --schedule NAME` (and the
scheduling callbacks) would follow, evaluates it at every optimizer step
and prints one row per epoch: the learning rate (and, for one-cycle, the
momentum) at the epoch's first step, then at the step after the last.

Schedules (all run inside the compiled train step when training):
    one-cycle    OneCycleSchedule: Smith's 1cycle, momentum cycled inversely
    power        PowerDecay: lr / (1 + t / decay_steps) ** power
    exponential  keras ExponentialDecay: lr * decay_rate ** (t / decay_steps)
    piecewise    piecewise_constant_by_epoch: --values between --boundaries
    constant     --learning-rate throughout (with --warmup-epochs: a warm-up)
--warmup-epochs puts a LinearWarmup in front of any but one-cycle (whose
rising phase is its warm-up). Performance (on-plateau) scheduling has no
curve to preview: it cuts the rate when the validation loss stalls, so its
curve is known only after training (`train` writes it to schedule.png).
Defaults that depend on --epochs are those of `keras-recipes train`.

Usage:
    keras-recipes schedule                                  # one-cycle
    keras-recipes schedule --schedule one-cycle --shape linear --epochs 20
    keras-recipes schedule --schedule piecewise --boundaries 5 15 \\
        --values 0.1 0.01 0.001
    keras-recipes schedule --schedule exponential --warmup-epochs 1
    python recipes/plot_schedule.py ...                     # the same

Writes to --log-dir (default runs/schedule-<time>): args.json, schedule.png,
schedule.csv (one row per step: step, epoch, learning_rate[, momentum]).
"""

import numpy as np

from keras_recipes.callbacks import scheduling_callback
from keras_recipes.commands._common import (
    UsageError,
    add_log_dir,
    learning_rates_of,
    main_of,
    momenta_of,
    new_parser,
    positive_float,
    positive_int,
    write_schedule_csv,
)
from keras_recipes.plots import plot_schedule
from keras_recipes.runs import start_run
from keras_recipes.schedules import LinearWarmup

SCHEDULES = ("one-cycle", "power", "exponential", "piecewise", "constant")
_WARMED = ("power", "exponential", "piecewise", "constant")
# The schedule-specific flags (by `dest`) and the schedules they apply to.
_APPLIES_TO = {
    "shape": ("one-cycle",),
    "pct_start": ("one-cycle",),
    "div_factor": ("one-cycle",),
    "final_div_factor": ("one-cycle",),
    "max_momentum": ("one-cycle",),
    "min_momentum": ("one-cycle",),
    "decay_epochs": ("power", "exponential"),
    "power": ("power",),
    "decay_rate": ("exponential",),
    "staircase": ("exponential",),
    "boundaries": ("piecewise",),
    "values": ("piecewise",),
    "warmup_epochs": _WARMED,
    "warmup_initial_learning_rate": _WARMED,
}


def build_parser(parser=None):
    """Fills `parser` (or a new one) with the flags of `schedule`."""
    parser = new_parser(parser, __doc__)
    parser.add_argument(
        "--schedule", choices=SCHEDULES, default="one-cycle", help="what to preview"
    )
    parser.add_argument(
        "--learning-rate",
        type=positive_float,
        default=0.01,
        help="peak (one-cycle) or initial learning rate",
    )
    parser.add_argument(
        "--epochs", type=positive_int, default=15, help="epochs of the run"
    )
    parser.add_argument(
        "--steps-per-epoch",
        type=positive_int,
        default=100,
        help="optimizer steps per epoch (ceil(samples / batch size))",
    )
    one_cycle = parser.add_argument_group("one-cycle (OneCycleSchedule)")
    one_cycle.add_argument(
        "--shape",
        choices=("cosine", "linear"),
        default=None,
        help="cosine annealing (fastai) or Smith's three linear phases "
        "(default: cosine)",
    )
    one_cycle.add_argument(
        "--pct-start",
        type=float,
        default=None,
        help="fraction of the steps spent rising (default: 0.25 cosine, 0.45 linear)",
    )
    one_cycle.add_argument(
        "--div-factor",
        type=positive_float,
        default=None,
        help="start = learning rate / div_factor (default: 25 cosine, 10 linear)",
    )
    one_cycle.add_argument(
        "--final-div-factor",
        type=positive_float,
        default=None,
        help="end = start / final_div_factor (default: 1e5 cosine, 1e3 linear)",
    )
    one_cycle.add_argument(
        "--max-momentum",
        type=float,
        default=None,
        help="momentum at the ends of the cycle (default: 0.95)",
    )
    one_cycle.add_argument(
        "--min-momentum",
        type=float,
        default=None,
        help="momentum at the peak learning rate (default: 0.85)",
    )
    decay = parser.add_argument_group("power and exponential decay")
    decay.add_argument(
        "--decay-epochs",
        type=positive_float,
        default=None,
        help="decay_steps in epochs (default: epochs / 4 for power, epochs for "
        "exponential)",
    )
    decay.add_argument(
        "--power",
        type=float,
        default=None,
        help="power: the exponent c, >= 0 (default: 1)",
    )
    decay.add_argument(
        "--decay-rate",
        type=float,
        default=None,
        help="exponential: factor per decay_steps, in (0, 1] (default: 0.1)",
    )
    decay.add_argument(
        "--staircase",
        action="store_true",
        help="exponential: decay in whole steps of decay_steps",
    )
    piecewise = parser.add_argument_group("piecewise constant")
    piecewise.add_argument(
        "--boundaries",
        type=float,
        nargs="+",
        default=None,
        metavar="EPOCH",
        help="increasing epochs at which the rate changes (default: epochs / 2, "
        "3 * epochs / 4)",
    )
    piecewise.add_argument(
        "--values",
        type=positive_float,
        nargs="+",
        default=None,
        metavar="RATE",
        help="learning rates, one more than --boundaries (default: the learning "
        "rate, / 10, / 100)",
    )
    warmup = parser.add_argument_group("warm-up (LinearWarmup; not for one-cycle)")
    warmup.add_argument(
        "--warmup-epochs",
        type=positive_float,
        default=None,
        help="length of a linear warm-up before the schedule (default: none)",
    )
    warmup.add_argument(
        "--warmup-initial-learning-rate",
        type=float,
        default=None,
        help="learning rate at step 0 of the warm-up (default: 0)",
    )
    add_log_dir(parser, "schedule")
    parser.add_argument(
        "--smoke", action="store_true", help="a tiny preview: 4 epochs of 10 steps"
    )
    parser.set_defaults(seed=0)  # start_run seeds; a preview draws nothing.
    return parser


def _flag(dest):
    return "--" + dest.replace("_", "-")


def check_flags(args):
    """Raises `UsageError` for a flag given to a schedule it does not apply to."""
    for dest, schedules in _APPLIES_TO.items():
        value = getattr(args, dest)
        if value is not None and value is not False and args.schedule not in schedules:
            raise UsageError(
                f"{_flag(dest)} applies to --schedule {' or '.join(schedules)}. "
                f"Received: --schedule {args.schedule} {_flag(dest)} "
                f"{' '.join(map(str, value)) if isinstance(value, list) else value}"
            )
    if args.warmup_initial_learning_rate is not None and args.warmup_epochs is None:
        raise UsageError(
            "--warmup-initial-learning-rate needs --warmup-epochs. Received: "
            f"--warmup-initial-learning-rate {args.warmup_initial_learning_rate}"
        )
    if args.schedule == "one-cycle":
        maximum = 0.95 if args.max_momentum is None else args.max_momentum
        minimum = 0.85 if args.min_momentum is None else args.min_momentum
        if not 0 <= minimum <= maximum <= 1:
            raise UsageError(
                "Momenta must satisfy 0 <= --min-momentum <= --max-momentum <= 1. "
                f"Received: --min-momentum {minimum} --max-momentum {maximum}"
            )


def make_schedule(args):
    """The schedule `train` would follow with `args`, and its callback.

    Built by `keras_recipes.scheduling_callback` (`train`'s defaults, the
    flags replacing them) and evaluated as the callback evaluates it in the
    train step. Returns `(schedule, callback)`: a `LearningRateSchedule` (a
    float for constant), and the callback (`None` for constant).

    Raises:
        UsageError: If the flags do not make a valid schedule.
    """
    check_flags(args)
    epochs, steps_per_epoch = args.epochs, args.steps_per_epoch
    learning_rate = args.learning_rate
    options = {
        dest: getattr(args, dest)
        for dest, schedules in _APPLIES_TO.items()
        if args.schedule in schedules
        and not dest.startswith("warmup")
        and getattr(args, dest) not in (None, False)
    }
    name = "none" if args.schedule == "constant" else args.schedule
    try:
        callback = scheduling_callback(name, learning_rate, epochs, **options)
        schedule = learning_rate
        if callback is not None:
            callback.schedule_functions(
                epochs * steps_per_epoch, steps_per_epoch, learning_rate
            )
            schedule = callback.schedule
        if args.warmup_epochs is not None:
            schedule = LinearWarmup(
                schedule,
                warmup_steps=max(1, round(args.warmup_epochs * steps_per_epoch)),
                initial_learning_rate=args.warmup_initial_learning_rate or 0.0,
            )
    except (TypeError, ValueError) as error:
        raise UsageError(f"--schedule {args.schedule}: {error}") from error
    return schedule, callback


def run(args):
    """Runs `schedule` with parsed arguments; returns the exit status."""
    if args.smoke:
        args.epochs, args.steps_per_epoch = 4, 10
    # Before start_run: no folder on a bad flag.
    schedule, callback = make_schedule(args)
    log_dir = start_run(args, "schedule")
    steps_per_epoch = args.steps_per_epoch
    total_steps = args.epochs * steps_per_epoch
    steps = np.arange(total_steps + 1)  # ... and the step after the last.
    if isinstance(schedule, float):
        rates = np.full(steps.shape, schedule)
    else:
        rates = learning_rates_of(schedule, steps)
    momenta = momenta_of(callback, steps)

    print(
        f"{args.schedule} schedule: {args.epochs} epochs x {steps_per_epoch} "
        f"steps ({total_steps} steps)"
    )
    header = f"{'epoch':>5}  {'step':>7}  {'learning_rate':>14}"
    print(header + (f"  {'momentum':>9}" if momenta is not None else ""))
    rows = [(str(e + 1), e * steps_per_epoch) for e in range(args.epochs)]
    for epoch, step in rows + [("end", total_steps)]:
        line = f"{epoch:>5}  {step:>7}  {rates[step]:>14.6g}"
        if momenta is not None:
            line += f"  {momenta[step]:>9.6g}"
        print(line)
    peak = int(np.argmax(rates))
    print(
        f"learning rate from {rates[0]:.6g} to {rates[-1]:.6g}, highest "
        f"{rates[peak]:.6g} at step {peak} (in epoch {peak // steps_per_epoch + 1})"
    )

    per_step = slice(0, total_steps)
    momenta_per_step = None if momenta is None else momenta[per_step]
    table = write_schedule_csv(
        log_dir / "schedule.csv", rates[per_step], momenta_per_step, steps_per_epoch
    )
    plot = plot_schedule(
        rates[per_step],
        momenta_per_step,
        log_dir / "schedule.png",
        title=f"{args.schedule} schedule: {args.epochs} epochs x "
        f"{steps_per_epoch} steps",
    )
    print(f"plot: {plot}\ntable: {table}")
    return 0


def main(argv=None):
    """`keras-recipes schedule` / `python recipes/plot_schedule.py`; exit status."""
    return main_of(build_parser, run, argv)
