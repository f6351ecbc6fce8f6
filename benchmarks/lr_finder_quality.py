"""How good are the LR finder's suggestions? Two measurements.

1. Convex quadratics (least squares, full-batch SGD, no bias), whose largest
   stable learning rate is known in closed form: lr_max = 2 / lambda_max(H),
   H = (2 / n) X^T X the Hessian of Keras's mean squared error. Goal: every
   suggestion below lr_max and within a factor of 100 of it.
2. The digits MLP: the suggested learning rate trained for a fixed budget,
   against the best of a grid of 10 constant learning rates trained for the
   same budget. Goal: validation accuracy within 1 point of the grid's best,
   at a fraction of its cost in optimizer steps.

Usage:
    python benchmarks/lr_finder_quality.py                 # both parts
    python benchmarks/lr_finder_quality.py --seeds 5 --epochs 10
    python benchmarks/lr_finder_quality.py --output results.md
"""

import argparse
import statistics
import sys
import time

import keras
import numpy as np

import keras_recipes as kr
from keras_recipes.data import load_digits
from keras_recipes.lr_finder.algorithms import clean_curve, suggest_valley

METHODS = ("valley", "fastai valley", "steep", "minimum", "slide")


def suggestions(result):
    """Our suggestions plus fastai's exact valley (`min_drop=0`)."""
    lrs, losses = clean_curve(result.learning_rates, result.smoothed_losses)
    return {**result.suggestions, "fastai valley": suggest_valley(lrs, losses, 0)}


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the MLP part")
    parser.add_argument("--epochs", type=int, default=10, help="training budget")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--output", default=None, help="also write Markdown here")
    return parser


# ------------------------------------------------------------ 1. quadratics


def quadratic_problems():
    """(name, X, y) least-squares problems of various sizes and conditioning."""
    rng = np.random.default_rng(0)
    problems = []
    for d, kappa, scale in [(4, 1, 1.0), (16, 100, 1.0), (64, 1e4, 1.0),
                            (16, 10, 10.0), (32, 1e3, 0.1)]:  # fmt: skip
        n = 512
        z = rng.normal(size=(n, d))
        x = z * np.logspace(0, 0.5 * np.log10(kappa), d) * scale
        y = x @ rng.normal(size=d) + 0.1 * rng.normal(size=n)
        problems.append((f"d={d}, cond~{kappa:g}, scale {scale:g}", x, y))
    return problems


def largest_stable_learning_rate(x):
    hessian = 2.0 / len(x) * x.T @ x
    return 2.0 / np.linalg.eigvalsh(hessian).max()


def run_quadratics():
    rows = []
    for name, x, y in quadratic_problems():
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [keras.Input((x.shape[1],)), keras.layers.Dense(1, use_bias=False)]
        )
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
        result = kr.find_learning_rate(
            model,
            x.astype("float32"),
            y[:, None].astype("float32"),
            batch_size=len(x),
            verbose=0,
        )
        rows.append((name, largest_stable_learning_rate(x), result))
    return rows


def quadratics_table(rows):
    lines = [
        "| problem | lr_max = 2/λmax | "
        + " | ".join(f"{m}: lr (lr_max/lr)" for m in METHODS)
        + " |",
        "|---" * (len(METHODS) + 2) + "|",
    ]
    passed = dict.fromkeys(METHODS, 0)
    for name, lr_max, result in rows:
        cells = []
        found = suggestions(result)
        for method in METHODS:
            lr = found[method]
            if lr is None:
                cells.append("n/a")
                continue
            ok = lr_max / 100 <= lr < lr_max
            passed[method] += ok
            cells.append(f"{lr:.3g} ({lr_max / lr:.3g}){'' if ok else ' ✗'}")
        lines.append(f"| {name} | {lr_max:.3g} | " + " | ".join(cells) + " |")
    lines.append(
        "| **in (lr_max/100, lr_max)** | | "
        + " | ".join(f"**{passed[m]}/{len(rows)}**" for m in METHODS)
        + " |"
    )
    return "\n".join(lines)


# ------------------------------------------------------------ 2. digits MLP


def digits_model(seed, learning_rate, data):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.Input((64,))]
        + [
            keras.layers.Dense(128, activation="relu", kernel_initializer="he_normal")
            for _ in range(2)
        ]
        + [keras.layers.Dense(data.num_classes, activation="softmax")]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def train_and_score(seed, learning_rate, data, args):
    model = digits_model(seed, learning_rate, data)
    history = model.fit(
        data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
        batch_size=args.batch_size, epochs=args.epochs, verbose=0,
    )  # fmt: skip
    return history.history["val_accuracy"][-1]


def run_digits(args):
    data = load_digits(seed=0)
    steps_per_epoch = -(-len(data.x_train) // args.batch_size)
    grid = np.logspace(-4, 0.5, 10)
    rows = []
    for seed in range(args.seeds):
        scores = {lr: train_and_score(seed, lr, data, args) for lr in grid}
        best_lr = max(scores, key=scores.get)
        model = digits_model(seed, 0.01, data)
        result = kr.find_learning_rate(
            model, data.x_train, data.y_train, batch_size=args.batch_size, verbose=0
        )
        suggested = train_and_score(seed, result.suggestion, data, args)
        fastai_lr = suggestions(result)["fastai valley"]
        fastai = train_and_score(seed, fastai_lr, data, args)
        rows.append(
            {
                "fastai_lr": fastai_lr,
                "fastai": fastai,
                "seed": seed,
                "grid_best_lr": best_lr,
                "grid_best": scores[best_lr],
                "suggestion": result.suggestion,
                "suggested": suggested,
                "finder_steps": result.steps,
                "grid_steps": len(grid) * args.epochs * steps_per_epoch,
                "finder_cost": result.steps + args.epochs * steps_per_epoch,
            }
        )
        print(
            f"seed {seed}: grid best {scores[best_lr]:.4f} at lr={best_lr:.3g}; "
            f"suggestion {result.suggestion:.3g} -> {suggested:.4f}",
            flush=True,
        )
    return rows


def digits_table(rows):
    lines = [
        "| seed | grid best lr | grid best val acc | suggested lr (valley) | "
        "val acc at suggestion | gap (points) | fastai valley lr: val acc (gap) | "
        "cost: finder + 1 run | cost: grid |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        gap = 100 * (r["grid_best"] - r["suggested"])
        fastai_gap = 100 * (r["grid_best"] - r["fastai"])
        lines.append(
            f"| {r['seed']} | {r['grid_best_lr']:.3g} | {r['grid_best']:.4f} | "
            f"{r['suggestion']:.3g} | {r['suggested']:.4f} | {gap:.2f} | "
            f"{r['fastai_lr']:.3g}: {r['fastai']:.4f} ({fastai_gap:.2f}) | "
            f"{r['finder_cost']} steps | {r['grid_steps']} steps |"
        )
    gaps = [100 * (r["grid_best"] - r["suggested"]) for r in rows]
    lines.append(
        f"\nMedian gap: {statistics.median(gaps):.2f} points (max {max(gaps):.2f}); "
        f"cost ratio finder/grid: {rows[0]['finder_cost'] / rows[0]['grid_steps']:.2f}."
    )
    return "\n".join(lines)


def main(argv=None):
    args = build_parser().parse_args(argv)
    start = time.perf_counter()
    quadratics = quadratics_table(run_quadratics())
    print(quadratics, flush=True)
    digits = digits_table(run_digits(args))
    print(digits)
    text = (
        f"Backend: {keras.backend.backend()}, Keras {keras.__version__}; "
        f"{args.seeds} seeds, {args.epochs} epochs, batch {args.batch_size}; "
        f"{time.perf_counter() - start:.0f} s.\n\n"
        f"### Convex quadratics\n\n{quadratics}\n\n### Digits MLP\n\n{digits}\n"
    )
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
