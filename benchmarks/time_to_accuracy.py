"""Time to accuracy on digits: the train recipe's schedule against a baseline.

For each seed, in one process and side by side:

* baseline: the model a user would train by hand, Adam at a constant 1e-3,
  batch 32, 30 epochs, no callbacks. Its final validation accuracy sets the
  bar;
* recipe arms: what `recipes/train.py` does (Adam(1e-3) compiled, the LR
  range test, then `OneCycle(max_learning_rate=<the finder's "minimum">)`,
  the rule of `keras_recipes.commands.train.suggestion_method`), trained for
  15 and for 8 epochs, each arm from fresh weights and its own finder run.

Every arm is the recipe's model, `build_cnn(..., activation="relu")`, built
after `keras.utils.set_random_seed(seed)`, so all arms of a seed start from
the same weights; the data is `load_dataset("digits", seed=seed)`, the
recipe's split. No early stopping: the measure is the accuracy of the last
epoch. What the recipe's early stopping (patience 5 on val_accuracy) and best
checkpoint would have given is derived from the same runs and reported too.
Arms run in an order shuffled per seed, after one untimed warm-up fit.
`--fixed-peaks` adds, as a diagnostic, 1cycle arms at given peak rates with
no finder, to see how the finder's choice compares.

Usage:
    KERAS_BACKEND=tensorflow python benchmarks/time_to_accuracy.py --seeds 5
    python benchmarks/time_to_accuracy.py --seeds 5 --out results.json
    python benchmarks/time_to_accuracy.py --budgets 15 8 --baseline-epochs 30
    # diagnostic: is the finder's peak rate a good one? 1cycle at fixed peaks
    python benchmarks/time_to_accuracy.py --budgets 15 --fixed-peaks 0.003 0.01
"""

import argparse
import json
import random
import statistics
import sys
import time

import keras
import numpy as np

import keras_recipes as kr
from keras_recipes.commands.train import suggestion_method
from keras_recipes.data import load_dataset

PATIENCE = 5  # recipes/train.py --patience default


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="The backend is chosen with the KERAS_BACKEND environment variable.",
    )
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--baseline-epochs", type=int, default=30)
    parser.add_argument(
        "--budgets", type=int, nargs="+", default=[15, 8], help="recipe epochs"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--fixed-peaks",
        type=float,
        nargs="*",
        default=[],
        help="diagnostic: also 1cycle at these peak rates, no finder, per budget",
    )
    parser.add_argument(
        "--valley-arms",
        action="store_true",
        help="diagnostic: also the recipe's arms at the finder's `valley` "
        "(the recipe uses `minimum` with 1cycle)",
    )
    parser.add_argument("--out", default=None, help="also write the runs as JSON")
    return parser


class EpochLog(keras.callbacks.Callback):
    """Epoch end times, and the weights of each new best val_accuracy."""

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()
        self.seconds = []
        self.best = -1.0
        self.snapshots = {}

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)
        if logs["val_accuracy"] > self.best:
            self.best = logs["val_accuracy"]
            self.snapshots[epoch + 1] = self.model.get_weights()


def fresh_model(seed, data):
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = kr.build_cnn(data.x_train.shape[1:], data.num_classes, activation="relu")
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def early_stop_epoch(val_accuracy, patience=PATIENCE):
    """The epoch (1-based) at which kr.EarlyStopping would stop the fit."""
    best, wait = -1.0, 0
    for epoch, value in enumerate(val_accuracy, start=1):
        if value > best:
            best, wait = value, 0
        else:
            wait += 1
            if wait >= patience:
                return epoch
    return len(val_accuracy)


def run_arm(name, seed, data, epochs, args, mode):
    """mode: "baseline", "finder" (the recipe), "finder:<method>" (another of
    the finder's suggestions) or a fixed peak rate."""
    model = fresh_model(seed, data)
    finder_seconds, suggestion, callbacks, finder = 0.0, None, [], None
    if isinstance(mode, str) and mode.startswith("finder"):
        start = time.perf_counter()
        finder = kr.find_learning_rate(
            model, data.x_train, data.y_train, batch_size=args.batch_size, verbose=0
        )
        finder_seconds = time.perf_counter() - start
        # As `keras-recipes train` with 1cycle: its rule picks the method.
        method = mode.partition(":")[2] or suggestion_method("auto", "one-cycle")
        suggestion = finder.suggestions.get(method) or 1e-3
    elif mode != "baseline":
        suggestion = mode
    if suggestion is not None:
        callbacks.append(kr.OneCycle(max_learning_rate=suggestion))
    log = EpochLog()
    start = time.perf_counter()
    history = model.fit(
        data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
        epochs=epochs, batch_size=args.batch_size, callbacks=callbacks + [log],
        verbose=0,
    ).history  # fmt: skip
    fit_seconds = time.perf_counter() - start
    test_accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)[1]
    # The recipe as it runs: early stopping, then the best checkpoint's test.
    stop = early_stop_epoch(history["val_accuracy"])
    best_epoch = max(e for e in log.snapshots if e <= stop)
    model.set_weights(log.snapshots[best_epoch])
    recipe_test = model.evaluate(data.x_test, data.y_test, verbose=0)[1]
    return {
        "arm": name,
        "seed": seed,
        "epochs": epochs,
        "suggestion": suggestion,
        "suggestions": finder.suggestions if finder else None,
        "finder_stopped_reason": finder.stopped_reason if finder else None,
        "finder_seconds": finder_seconds,
        "fit_seconds": fit_seconds,
        "seconds": finder_seconds + fit_seconds,
        "epoch_seconds": [finder_seconds + s for s in log.seconds],
        "val_accuracy": [float(v) for v in history["val_accuracy"]],
        "final_val": float(history["val_accuracy"][-1]),
        "best_val": float(max(history["val_accuracy"])),
        "test": float(test_accuracy),
        "early_stop_epoch": stop,
        "early_stop_best_epoch": best_epoch,
        "early_stop_val": float(history["val_accuracy"][best_epoch - 1]),
        "early_stop_test": float(recipe_test),
    }


def reach(run, bar):
    """First epoch (1-based) whose val accuracy is >= bar, and its time."""
    for epoch, value in enumerate(run["val_accuracy"], start=1):
        if value >= bar - 1e-9:
            return epoch, run["epoch_seconds"][epoch - 1]
    return None, None


def warm_up(data, args):
    model = fresh_model(0, data)
    model.fit(
        data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
        epochs=1, batch_size=args.batch_size, verbose=0,
    )  # fmt: skip


def run(args):
    arms = [("baseline", args.baseline_epochs, "baseline")]
    arms += [(f"recipe-{b}", b, "finder") for b in args.budgets]
    if args.valley_arms:
        arms += [(f"valley-{b}", b, "finder:valley") for b in args.budgets]
    arms += [
        (f"1cycle-{b} @ {peak:g}", b, peak)
        for b in args.budgets
        for peak in args.fixed_peaks
    ]
    runs = []
    for seed in range(args.seeds):
        data = load_dataset("digits", seed=seed)
        if seed == 0:
            warm_up(data, args)
        order = list(arms)
        random.Random(seed).shuffle(order)
        by_arm = {}
        for name, epochs, mode in order:
            by_arm[name] = run_arm(name, seed, data, epochs, args, mode)
        bar = by_arm["baseline"]["final_val"]
        for name, _, _ in arms:
            result = by_arm[name]
            result["bar"] = bar
            result["order"] = [a[0] for a in order].index(name)
            result["bar_epoch"], result["bar_seconds"] = reach(result, bar)
            runs.append(result)
            print(
                f"seed {seed} {name:>16}: val {result['final_val']:.4f} "
                f"(best {result['best_val']:.4f}) test {result['test']:.4f} "
                f"lr {result['suggestion'] or 1e-3:.3g} "
                f"finder {result['finder_seconds']:.1f} s + fit "
                f"{result['fit_seconds']:.1f} s; bar {bar:.4f} at epoch "
                f"{result['bar_epoch']}",
                flush=True,
            )
    return runs


def spread(values, fmt):
    values = [v for v in values if v is not None]
    if not values:
        return "never"
    return (
        f"{statistics.median(values):{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"
    )


def tables(runs, args):
    names = list(dict.fromkeys(r["arm"] for r in runs))
    arm_runs = {n: [r for r in runs if r["arm"] == n] for n in names}
    lines = [
        "| Arm | Epochs | Final val acc | Best val acc | Test acc (final) | "
        "Epoch reaching the bar | Finder (s) | Fit (s) | Wall, finder + fit (s) | "
        "Wall to the bar (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in names:
        rs = arm_runs[name]
        reached = sum(r["bar_epoch"] is not None for r in rs)
        lines.append(
            f"| {name} | {rs[0]['epochs']} | "
            f"{spread([r['final_val'] for r in rs], '.4f')} | "
            f"{spread([r['best_val'] for r in rs], '.4f')} | "
            f"{spread([r['test'] for r in rs], '.4f')} | "
            f"{spread([r['bar_epoch'] for r in rs], 'g')} [{reached}/{len(rs)}] | "
            f"{spread([r['finder_seconds'] for r in rs], '.1f')} | "
            f"{spread([r['fit_seconds'] for r in rs], '.1f')} | "
            f"{spread([r['seconds'] for r in rs], '.1f')} | "
            f"{spread([r['bar_seconds'] for r in rs], '.1f')} |"
        )
    base = {r["seed"]: r for r in arm_runs["baseline"]}
    recipe_names = [n for n in names if n != "baseline"]
    lines += [
        "",
        "| Seed | Bar (baseline final val) | Baseline test | "
        + " | ".join(
            f"{n}: lr, final val (vs bar), test, wall / baseline wall"
            for n in recipe_names
        )  # fmt: skip
        + " |",
        "|---:|---:|---:|" + "---|" * len(recipe_names),
    ]
    for seed in sorted(base):
        cells = []
        for name in recipe_names:
            r = next(r for r in arm_runs[name] if r["seed"] == seed)
            diff = 100 * (r["final_val"] - r["bar"])
            verdict = "win" if diff > 1e-7 else ("tie" if diff > -1e-7 else "loss")
            cells.append(
                f"{r['suggestion']:.3g}, {r['final_val']:.4f} ({diff:+.2f}, "
                f"{verdict}), {r['test']:.4f}, "
                f"{r['seconds'] / base[seed]['fit_seconds']:.2f}x"
            )
        lines.append(
            f"| {seed} | {base[seed]['final_val']:.4f} | {base[seed]['test']:.4f} | "
            + " | ".join(cells)
            + " |"
        )
    lines += ["", "Summary:"]
    for name in recipe_names:
        rs = arm_runs[name]
        diffs = [r["final_val"] - base[r["seed"]]["final_val"] for r in rs]
        ratios = [r["seconds"] / base[r["seed"]]["fit_seconds"] for r in rs]
        wins = sum(d > 1e-7 for d in diffs)
        ties = sum(abs(d) <= 1e-7 for d in diffs)
        lines.append(
            f"- {name} vs baseline: final val acc {wins} wins, {ties} ties, "
            f"{len(rs) - wins - ties} losses; median difference "
            f"{100 * statistics.median(diffs):+.2f} points "
            f"({100 * min(diffs):+.2f} to {100 * max(diffs):+.2f}); "
            f"wall time ratio (finder + fit) / baseline fit "
            f"{spread(ratios, '.2f')}."
        )
    # The recipe as it runs by default: early stopping + best checkpoint.
    lines += [
        "",
        "As `recipes/train.py` runs it (EarlyStopping patience 5 on val_accuracy, "
        "then the best checkpoint's test accuracy), derived from the same runs:",
        "",
        "| Arm | Stop epoch | Best-checkpoint val acc | Best-checkpoint test acc |",
        "|---|---:|---:|---:|",
    ]
    for name in names:
        rs = arm_runs[name]
        lines.append(
            f"| {name} | {spread([r['early_stop_epoch'] for r in rs], 'g')} | "
            f"{spread([r['early_stop_val'] for r in rs], '.4f')} | "
            f"{spread([r['early_stop_test'] for r in rs], '.4f')} |"
        )
    return "\n".join(lines)


def main(argv=None):
    args = build_parser().parse_args(argv)
    start = time.perf_counter()
    runs = run(args)
    text = (
        f"Backend: {keras.backend.backend()}, Keras {keras.__version__}, "
        f"NumPy {np.__version__}; {args.seeds} seeds, baseline "
        f"{args.baseline_epochs} epochs, recipe budgets {args.budgets}, batch "
        f"{args.batch_size}; median (min-max) over seeds; "
        f"{time.perf_counter() - start:.0f} s in all.\n\n{tables(runs, args)}"
    )
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"args": vars(args), "runs": runs}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
