"""Figures, drawn with matplotlib's Agg backend (no display needed)."""

from pathlib import Path

from keras_recipes._internal.curves import centered_moving_average
from keras_recipes._internal.validation import check_choice, check_int, check_path


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
    from keras_recipes.lr_finder.result import LRFinderResult

    if not isinstance(result, LRFinderResult):
        raise TypeError(
            "`result` must be an LRFinderResult (what find_learning_rate and "
            f"LRFinder return). Received: result of type {type(result).__name__}"
        )
    path = _output(path)
    plt = _pyplot()
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
    train_loss = _curve("train_loss", train_loss)
    val_loss = _curve("val_loss", val_loss, like=("train_loss", train_loss))
    window = check_int("window", window, low=1, high=1000)
    path = _output(path)
    plt = _pyplot()
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
    learning_rates = _curve("learning_rates", learning_rates)
    if momenta is not None:
        momenta = _curve("momenta", momenta, like=("learning_rates", learning_rates))
    if not isinstance(title, str):
        raise TypeError(f"`title` must be a str. Received: title={title!r}")
    if logged is not None:
        if not isinstance(logged, (list, tuple)) or len(logged) != 2:
            raise TypeError(
                "`logged` must be a pair (steps, learning_rates). Received: "
                f"logged={logged!r}"
            )
        steps = _curve("logged", logged[0])
        logged = (steps, _curve("logged", logged[1], like=("logged", steps)))
    path = _output(path)
    plt = _pyplot()
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

    _check_trials(trials)
    if not isinstance(objective, str):
        raise TypeError(
            "`objective` must be a metric name (a str). Received: "
            f"objective={objective!r}"
        )
    check_choice("direction", direction, ("max", "min"))
    path = _output(path)
    plt = _pyplot()
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


_FORMATS = (".png", ".svg", ".pdf", ".jpg", ".jpeg")


def _output(path):
    """The figure's path (checked), its folder made."""
    path = Path(check_path("path", path))
    if path.suffix.lower() not in _FORMATS:
        raise ValueError(
            f"`path` must end in one of {', '.join(_FORMATS)} (the image's "
            f"format). Received: path={str(path)!r}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _curve(name, values, like=None):
    """`values` as a 1-D float array of at least one value (NaN and Inf are
    drawn as gaps); with `like=(name, array)`, as many values as it."""
    import numpy as np

    try:
        array = np.asarray(values, dtype="float64")
    except (TypeError, ValueError):
        array = None
    if array is None or array.ndim != 1:
        raise TypeError(
            f"`{name}` must be a sequence of numbers. Received: {name}={values!r}"
        )
    if array.size == 0:
        raise ValueError(f"`{name}` must hold at least one value. Received: {name}=[]")
    if like is not None and array.size != like[1].size:
        raise ValueError(
            f"`{name}` must hold as many values as `{like[0]}` ({like[1].size}). "
            f"Received: {array.size} value{'s' if array.size != 1 else ''}"
        )
    return array


def _check_trials(trials):
    """`trials` as `SearchResult.trials` gives them."""
    import numbers

    fields = ("trial_id", "score", "hyperparameters")
    rows = trials if isinstance(trials, (list, tuple)) else None
    if rows is None or not all(
        isinstance(row, dict)
        and all(field in row for field in fields)
        and isinstance(row["hyperparameters"], dict)
        and (row["score"] is None or isinstance(row["score"], numbers.Real))
        for row in rows
    ):
        raise TypeError(
            "`trials` must be a list of rows (dicts) with trial_id, score and "
            f"hyperparameters, as SearchResult.trials. Received: trials={trials!r}"
        )
