"""Figures, drawn with matplotlib's Agg backend (no display needed)."""

from pathlib import Path

from keras_recipes._internal.curves import centered_moving_average


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


_LINES = {"valley": "-", "steep": "--", "minimum": ":", "slide": "-."}


def plot_lr_finder(result, path):
    """Loss against learning rate (log axis), with the suggestions marked.

    Args:
        result: An `LRFinderResult`.
        path: Where to write the PNG.

    Returns:
        The path written, as a `pathlib.Path`.
    """
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    draw_lr_finder(ax, result)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel(result.monitor)
    ax.set_title(f"LR range test: {result.stopped_reason}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw_lr_finder(ax, result):
    """Draws an `LRFinderResult` on `ax`: the raw per-batch losses, the
    smoothed curve the suggestions are computed on, each suggestion as a
    vertical line; the y-range holds both curves."""
    import numpy as np

    lrs = np.asarray(result.learning_rates)
    raw = np.asarray(result.losses, dtype="float64")
    smoothed = np.asarray(result.smoothed_losses, dtype="float64")
    ax.plot(lrs, raw, color="0.6", linewidth=1, label="loss per batch")
    ax.plot(
        lrs,
        smoothed,
        color="C0",
        linewidth=2,
        label="smoothed (the suggestions use it)",
    )
    for index, (name, lr) in enumerate(result.suggestions.items()):
        if lr is None:
            continue
        style = "default, " if name == result.method else ""
        ax.axvline(
            lr,
            color=f"C{index + 1}",
            linestyle=_LINES.get(name, "--"),
            linewidth=1.5,
            label=f"{name} ({style}{lr:.2g})",
        )
    both = np.concatenate([raw, smoothed])
    both = both[np.isfinite(both)]
    if both.size:
        # From the lowest loss either curve reaches to a little above where
        # the sweep started (the divergence at the end would squash the rest).
        start = np.concatenate(
            [raw[: max(1, raw.size // 10)], smoothed[: max(1, smoothed.size // 10)]]
        )
        start = start[np.isfinite(start)]
        low = both.min()
        high = start.max() if start.size else both.max()
        span = abs(high - low) + 1e-12
        ax.set_ylim(low - 0.1 * span, high + 0.5 * span)


def draw_learning_curves(ax, train_loss, val_loss, window=3):
    """Draws the raw training and validation loss per epoch (bold) and, where
    a whole window fits, their centred moving average (thin, dashed)."""
    epochs = range(1, len(train_loss) + 1)
    for values, label, color in (
        (train_loss, "training", "C0"),
        (val_loss, "validation", "C1"),
    ):
        ax.plot(
            epochs,
            values,
            color=color,
            linewidth=2,
            marker="o",
            markersize=3,
            label=label,
        )
        if len(values) >= window:
            ax.plot(
                epochs,
                centered_moving_average(values, window),
                color=color,
                linewidth=1,
                linestyle="--",
                alpha=0.8,
                label=f"{label}, centred mean of {window}",
            )


def plot_learning_curves(train_loss, val_loss, path, window=3):
    """Training and validation loss per epoch: raw, and a centred moving
    average where a whole window fits."""
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    draw_learning_curves(ax, train_loss, val_loss, window)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("Learning curves")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_schedule(
    learning_rates, momenta, path, *, title="Schedule followed", logged=None
):
    """Learning rate (and momentum, if given) per optimizer step.

    Args:
        learning_rates: The learning rate of every step.
        momenta: The momentum of every step, or `None`.
        path: Where to write the PNG.
        title: The figure's title.
        logged: Optional `(steps, learning_rates)` logged during training
            (e.g. the epoch logs' `learning_rate`), drawn as dots on the curve.

    Returns:
        The path written, as a `pathlib.Path`.
    """
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4))
    steps = range(len(learning_rates))
    ax.plot(steps, learning_rates, color="C0", label="learning rate")
    if logged is not None:
        ax.plot(*logged, "o", color="C0", markersize=5, label="logged at epoch end")
        ax.legend(loc="best", fontsize="small")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("learning rate", color="C0")
    ax.grid(True, alpha=0.3)
    if momenta is not None:
        twin = ax.twinx()
        twin.plot(steps, momenta, color="C1", label="momentum")
        twin.set_ylabel("momentum (SGD momentum / Adam beta_1)", color="C1")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_search(trials, objective, path, direction="max"):
    """A search at a glance: the objective of each trial in the order they ran,
    with the best so far, and against the learning rate, by optimizer.

    Args:
        trials: `SearchResult.trials` (rows with `trial_id`, `score` and
            `hyperparameters`); trials without a finite score are left out.
        objective: The objective's name, for the axis.
        path: Where to write the PNG.
        direction: `"max"` or `"min"`, for the best so far.

    Returns:
        The path written, as a `pathlib.Path`.
    """
    import math

    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    done = sorted(
        (
            row
            for row in trials
            if row["score"] is not None and math.isfinite(row["score"])
        ),
        key=lambda row: int(row["trial_id"]) if str(row["trial_id"]).isdigit() else 0,
    )
    scores = [row["score"] for row in done]
    maximize = direction == "max"
    best, best_so_far = None, []
    for score in scores:
        better = best is None or (score > best if maximize else score < best)
        best = score if better else best
        best_so_far.append(best)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(range(1, len(scores) + 1), scores, "o", color="C0", label="trial")
    left.step(
        range(1, len(scores) + 1),
        best_so_far,
        where="post",
        color="C1",
        label="best so far",
    )
    left.set_xlabel("trial (in the order run)")
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set_ylabel(objective)
    left.legend(loc="best", fontsize="small")
    left.grid(True, alpha=0.3)
    optimizers = sorted({str(row["hyperparameters"].get("optimizer")) for row in done})
    for index, name in enumerate(optimizers):
        rows = [r for r in done if str(r["hyperparameters"].get("optimizer")) == name]
        rates = [r["hyperparameters"].get("learning_rate") for r in rows]
        if any(rate is None for rate in rates):
            continue
        right.plot(
            rates, [r["score"] for r in rows], "o", color=f"C{index % 10}", label=name
        )
    right.set_xscale("log")
    right.set_xlabel("learning rate")
    right.set_ylabel(objective)
    if optimizers:
        right.legend(loc="best", fontsize="small", title="optimizer")
    right.grid(True, alpha=0.3)
    fig.suptitle(f"Search: {len(done)} trials with a score")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
