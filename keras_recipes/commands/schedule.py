"""Preview a learning-rate schedule as a table and a plot, without training.

Builds the schedule that `keras-recipes train` follows with the same
--schedule and schedule flags (they are the same flags: what you preview is
what train trains with), evaluates it at every optimizer step and prints one
row per epoch: the learning rate (and, for one-cycle, the momentum) at the
epoch's first step, then at the step after the last.

Schedules (all run inside the compiled train step when training):
    one-cycle    OneCycleSchedule: Smith's 1cycle, momentum cycled inversely
    power        PowerDecay: lr / (1 + t / decay_steps) ** power
    exponential  keras ExponentialDecay: lr * decay_rate ** (t / decay_steps)
    piecewise    piecewise_constant_by_epoch: --values between --boundaries
    none         --learning-rate throughout
Performance (on-plateau) scheduling has no curve to preview: it cuts the
rate when the validation loss stalls, so its curve is known only after
training (`train` writes it to schedule.png).

Usage:
    keras-recipes schedule                                  # one-cycle
    keras-recipes schedule --schedule one-cycle --shape linear --epochs 20
    keras-recipes schedule --schedule piecewise --boundaries 5 15 \\
        --values 0.1 0.01 0.001
    python recipes/plot_schedule.py ...                     # the same

Writes to --log-dir (default runs/schedule-<time>): args.json, schedule.png,
schedule.csv (one row per step: step, epoch, learning_rate[, momentum]).
"""

import numpy as np

from keras_recipes.commands.common import (
    UsageError,
    add_log_dir,
    add_schedule,
    main_of,
    new_parser,
    positive_float,
    positive_int,
    scheduling_callback_of,
    write_schedule_csv,
)
from keras_recipes.plots import plot_schedule
from keras_recipes.runs import start_run


def build_parser(parser=None):
    """Fills `parser` (or a new one) with the flags of `schedule`."""
    parser = new_parser(parser, __doc__)
    add_schedule(parser)
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
    add_log_dir(parser, "schedule")
    parser.add_argument(
        "--smoke", action="store_true", help="a tiny preview: 4 epochs of 10 steps"
    )
    parser.set_defaults(seed=0)  # start_run seeds; a preview draws nothing.
    return parser


def make_schedule(args):
    """The curves `train` would follow with `args`: `(learning_rate, momentum)`.

    Built by the scheduling callback `train` builds
    (`keras_recipes.scheduling_callback`, `train`'s defaults, the flags
    replacing them), as that callback builds them for its fit. A number is
    a constant learning rate; `momentum` is `None` where it is not driven.

    Raises:
        UsageError: If the flags do not make a valid schedule, or name one
            without a curve (performance).
    """
    if args.schedule == "performance":
        raise UsageError(
            "--schedule performance has no curve to preview: it cuts the rate "
            "when the monitored metric stalls (train writes the curve it "
            "followed to schedule.png)"
        )
    callback = scheduling_callback_of(args, args.learning_rate)
    if callback is None:
        return args.learning_rate, None
    curves = callback.schedule_for(args.epochs, args.steps_per_epoch)
    return curves.learning_rate, curves.momentum


def run(args):
    """Runs `schedule` with parsed arguments; returns the exit status."""
    if args.smoke:
        args.epochs, args.steps_per_epoch = 4, 10
    # Before start_run: no folder on a bad flag.
    schedule, momentum = make_schedule(args)
    log_dir = start_run(args, "schedule")
    steps_per_epoch = args.steps_per_epoch
    total_steps = args.epochs * steps_per_epoch
    steps = np.arange(total_steps + 1)  # ... and the step after the last.
    from keras_recipes.schedules import evaluate  # Keras.

    rates = evaluate(schedule, steps)
    momenta = None if momentum is None else evaluate(momentum, steps)

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
