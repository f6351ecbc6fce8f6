"""Hyperband against random search on digits: best accuracy and epochs spent.

For each seed, in one process and side by side, `keras_recipes.tuning.search`
runs twice over the same search space (the default `MLPHyperModel` space,
batch sizes included) on `keras_recipes.data.load_digits(seed=0)`:

* Hyperband with `max_epochs=--epochs` and `factor=--factor` (one iteration,
  KerasTuner's default), which sets its own number of trials;
* random search with `--max-trials` trials of `--epochs` epochs each. The
  default is the smallest count whose nominal budget (trials x epochs) is at
  least Hyperband's nominal budget, computed from KerasTuner's bracket rule.

Every trial of both gets the search's early stopping (patience `--patience`
on `val_accuracy`) and best checkpoint. Measured per search: the best
validation accuracy (`result.trials[0]["score"]`), the epochs actually
trained (the sum of every trial's recorded epochs; a Hyperband trial that
continues a configuration counts only its new epochs), the trials, the
distinct configurations, the wall time, and the test accuracy of the best
model (`result.best_model_path`, on the held-out test split). Also derived
from the random search, with no extra training: "random at Hyperband's
epochs", the best validation accuracy of its first trials (in trial order)
whose cumulative epochs do not exceed what Hyperband trained on that seed.
Random trials are independent, so this is exactly the smaller random search.

`keras.utils.set_random_seed(seed)` runs before each search, so weights and
shuffling are seeded too; the oracle gets `seed`.

Usage:
    KERAS_BACKEND=tensorflow python benchmarks/tuner_comparison.py --seeds 5
    python benchmarks/tuner_comparison.py --seeds 5 --out results.json
    python benchmarks/tuner_comparison.py --seeds 1 --epochs 3   # dry run
"""

import argparse
import json
import math
import statistics
import sys
import tempfile
import time

import keras
import numpy as np

from keras_recipes.data import load_digits
from keras_recipes.tuning import search


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="The backend is chosen with the KERAS_BACKEND environment variable.",
    )
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--epochs",
        type=int,
        default=9,
        help="Hyperband's max_epochs and random search's epochs per trial",
    )
    parser.add_argument("--factor", type=int, default=3, help="Hyperband's factor")
    parser.add_argument(
        "--max-trials",
        type=int,
        default=None,
        help="random search trials (default: match Hyperband's nominal budget)",
    )
    parser.add_argument("--patience", type=int, default=5, help="early stopping")
    parser.add_argument("--out", default=None, help="also write the results (JSON)")
    return parser


def hyperband_schedule(max_epochs, factor):
    """Hyperband's (trials, epochs) per bracket and round, as KerasTuner plans it.

    The rule of `keras_tuner.oracles.HyperbandOracle` (1.4): brackets
    `s = S-1, ..., 0` with `S` the number of divisions of `max_epochs` by
    `factor` that stay >= 1; round `r` of bracket `s` runs
    `ceil(ceil(1 + log_factor(max_epochs)) / (s + 1) * factor**(s - r))` trials
    to `ceil(max_epochs / factor**(s - r))` epochs, and a trial of round
    `r > 0` continues a trial of round `r - 1` from its epoch count.
    """
    brackets, epochs = 0, max_epochs
    while epochs >= 1:
        epochs /= factor
        brackets += 1
    end_size = math.ceil(1 + math.log(max_epochs, factor))
    plan = []
    for s in reversed(range(brackets)):
        for r in range(s + 1):
            size = math.ceil(end_size / (s + 1) * factor ** (s - r))
            total = math.ceil(max_epochs / factor ** (s - r))
            start = math.ceil(max_epochs / factor ** (s - r + 1)) if r else 0
            plan.append({"bracket": s, "round": r, "trials": size,
                         "epochs": total, "new_epochs": total - start})  # fmt: skip
    return plan


def run_search(algorithm, data, seed, args, directory):
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    result = search(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        algorithm=algorithm,
        epochs=args.epochs,
        factor=args.factor,
        max_trials=args.max_trials,
        patience=args.patience,
        seed=seed,
        directory=directory,
        project_name=f"{algorithm}_{seed}",
        overwrite=True,
        verbose=0,
    )
    seconds = time.perf_counter() - start
    trials = sorted(result.trials, key=lambda row: int(row["trial_id"]))
    # The rows leave out Hyperband's bookkeeping (`tuner/round`, ...); the
    # oracle's trials have it.
    plans = [
        result.tuner.oracle.get_trial(t["trial_id"]).hyperparameters.values
        for t in trials
    ]
    failed = [t for t in trials if t["status"] != "COMPLETED"]
    model = keras.models.load_model(result.best_model_path)
    predicted = np.argmax(model.predict(data.x_test, verbose=0), axis=-1)
    rounds = [plan.get("tuner/round", 0) for plan in plans]
    return {
        "best_val_accuracy": result.trials[0]["score"],
        "test_accuracy": float(np.mean(predicted == data.y_test)),
        "epochs": sum(t["epochs"] or 0 for t in trials),
        "trials": len(trials),
        "configurations": sum(r == 0 for r in rounds),
        "failed": len(failed),
        "early_stopped": sum(
            t["epochs"] is not None and t["epochs"] < _planned_epochs(plan, args)
            for t, plan in zip(trials, plans, strict=True)
        ),
        "seconds": round(seconds, 1),
        "best_hyperparameters": result.best_hyperparameters,
        "trial_log": [
            {k: t[k] for k in ("trial_id", "status", "score", "epochs")}
            | {k: v for k, v in plan.items() if k.startswith("tuner/")}
            for t, plan in zip(trials, plans, strict=True)
        ],
    }


def _planned_epochs(plan, args):
    """The epochs a trial would train without early stopping."""
    if "tuner/epochs" in plan:
        return plan["tuner/epochs"] - plan["tuner/initial_epoch"]
    return args.epochs


def best_within(trial_log, epoch_budget):
    """Best score of the first trials whose cumulative epochs fit the budget."""
    best, used, count = None, 0, 0
    for trial in trial_log:
        if used + (trial["epochs"] or 0) > epoch_budget:
            break
        used += trial["epochs"] or 0
        count += 1
        if trial["score"] is not None and (best is None or trial["score"] > best):
            best = trial["score"]
    return {"best_val_accuracy": best, "epochs": used, "trials": count}


def spread(values, digits):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    fmt = f"{{:.{digits}f}}"
    return (
        f"{fmt.format(statistics.median(values))} "
        f"({fmt.format(min(values))}–{fmt.format(max(values))})"
    )


def summary_table(rows, args):
    arms = [
        ("Hyperband", "hyperband"),
        (f"Random search ({args.max_trials} trials)", "random"),
        ("Random search at Hyperband's epochs", "random_at_hyperband_epochs"),
    ]
    lines = [
        "| search | best val acc | test acc of best model | epochs trained | "
        "trials | configurations | wall s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, key in arms:
        runs = [r[key] for r in rows]

        def column(name, digits, runs=runs):
            return spread([run[name] for run in runs], digits)

        if key == "random_at_hyperband_epochs":  # derived: no model, no time
            test, configurations, seconds = "—", "= trials", "—"
        else:
            test = column("test_accuracy", 4)
            configurations = column("configurations", 0)
            seconds = column("seconds", 0)
        cells = [label, column("best_val_accuracy", 4), test, column("epochs", 0),
                 column("trials", 0), configurations, seconds]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def seed_table(rows):
    lines = [
        "| seed | Hyperband: val / test / epochs | random: val / test / epochs | "
        "random at HB epochs: val / epochs (trials) | val: HB − random | "
        "val: HB − random at HB epochs |",
        "|---:|---|---|---|---:|---:|",
    ]
    for r in rows:
        h, s, e = r["hyperband"], r["random"], r["random_at_hyperband_epochs"]
        lines.append(
            f"| {r['seed']} | {h['best_val_accuracy']:.4f} / {h['test_accuracy']:.4f}"
            f" / {h['epochs']} | {s['best_val_accuracy']:.4f} / "
            f"{s['test_accuracy']:.4f} / {s['epochs']} | "
            f"{_fmt(e['best_val_accuracy'])} / {e['epochs']} ({e['trials']}) | "
            f"{100 * (h['best_val_accuracy'] - s['best_val_accuracy']):+.2f} pts | "
            f"{_diff(h['best_val_accuracy'], e['best_val_accuracy'])} |"
        )
    return "\n".join(lines)


def _fmt(value):
    return "n/a" if value is None else f"{value:.4f}"


def _diff(a, b):
    return "n/a" if a is None or b is None else f"{100 * (a - b):+.2f} pts"


def main(argv=None):
    args = build_parser().parse_args(argv)
    plan = hyperband_schedule(args.epochs, args.factor)
    hyperband_budget = sum(p["trials"] * p["new_epochs"] for p in plan)
    hyperband_trials = sum(p["trials"] for p in plan)
    if args.max_trials is None:
        args.max_trials = math.ceil(hyperband_budget / args.epochs)
    budget_line = (
        f"Nominal budgets (no early stopping): Hyperband(max_epochs={args.epochs}, "
        f"factor={args.factor}) {hyperband_budget} epochs in {hyperband_trials} "
        f"trials ({sum(p['trials'] for p in plan if p['round'] == 0)} "
        f"configurations); random search {args.max_trials} trials x {args.epochs} "
        f"epochs = {args.max_trials * args.epochs} epochs."
    )
    print(budget_line, flush=True)
    data = load_digits(seed=0)
    rows = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tuner_comparison_") as directory:
        for seed in range(args.seeds):
            row = {"seed": seed}
            for algorithm in ("hyperband", "random"):
                row[algorithm] = run_search(algorithm, data, seed, args, directory)
                run = row[algorithm]
                print(
                    f"seed {seed} {algorithm}: best val {run['best_val_accuracy']:.4f}"
                    f", test {run['test_accuracy']:.4f}, {run['epochs']} epochs, "
                    f"{run['trials']} trials ({run['failed']} failed, "
                    f"{run['early_stopped']} stopped early), {run['seconds']:.0f} s",
                    flush=True,
                )
            row["random_at_hyperband_epochs"] = best_within(
                row["random"]["trial_log"], row["hyperband"]["epochs"]
            )
            rows.append(row)
    total = time.perf_counter() - start
    text = (
        f"Backend: {keras.backend.backend()}, Keras {keras.__version__}; "
        f"{args.seeds} seeds; patience {args.patience}; {total:.0f} s in all.\n"
        f"{budget_line}\n\nMedian (min–max) over seeds:\n\n"
        f"{summary_table(rows, args)}\n\nPer seed:\n\n{seed_table(rows)}\n"
    )
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(
                {"args": vars(args), "hyperband_plan": plan, "seconds": total,
                 "backend": keras.backend.backend(), "rows": rows},
                f, indent=1, default=str,
            )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
