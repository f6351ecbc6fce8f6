"""The plots show the data as it is: what is drawn is checked, not only the file."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from keras_recipes._internal.curves import centered_moving_average  # noqa: E402
from keras_recipes.lr_finder.result import LRFinderResult  # noqa: E402
from keras_recipes.plots import (  # noqa: E402
    draw_learning_curves,
    draw_lr_finder,
    plot_search,
)

pytestmark = pytest.mark.backend_independent


def lines_by_label(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def test_learning_curves_draw_the_raw_loss_bold_and_a_centred_mean():
    # A 6-epoch run whose training loss falls fast: a trailing mean of 3
    # would sit at ~0.36 on its last epoch while the loss is 0.01.
    train = [1.0, 0.3, 0.08, 0.03, 0.015, 0.01]
    val = [1.1, 0.5, 0.3, 0.26, 0.25, 0.25]
    fig, ax = plt.subplots()
    draw_learning_curves(ax, train, val, window=3)
    lines = lines_by_label(ax)
    np.testing.assert_allclose(lines["training"].get_ydata(), train)
    assert (
        lines["training"].get_linewidth()
        > lines["training, centred mean of 3"].get_linewidth()
    )
    mean = np.asarray(lines["training, centred mean of 3"].get_ydata(), float)
    assert np.isnan(mean[0]) and np.isnan(mean[-1])  # no half windows
    np.testing.assert_allclose(mean[1:-1], np.convolve(train, np.ones(3) / 3, "valid"))
    plt.close(fig)


def test_a_run_shorter_than_the_window_draws_no_mean():
    fig, ax = plt.subplots()
    draw_learning_curves(ax, [1.0, 0.5], [1.1, 0.7], window=3)
    assert set(lines_by_label(ax)) == {"training", "validation"}
    plt.close(fig)


def test_centered_moving_average_of_an_even_window():
    mean = centered_moving_average([1, 2, 3, 4, 5], window=4)
    np.testing.assert_allclose(mean, [np.nan, np.nan, 2.5, 3.5, np.nan])


def finder_result():
    lrs = np.geomspace(1e-5, 1, 60)
    raw = np.concatenate([np.linspace(2.3, 0.2, 45), np.linspace(0.2, 6.0, 15)])
    raw = raw + np.random.default_rng(0).normal(0, 0.05, 60)
    smoothed, average = [], 0.0  # the finder's bias-corrected EMA (it lags)
    for t, loss in enumerate(raw, start=1):
        average = 0.9 * average + 0.1 * loss
        smoothed.append(average / (1 - 0.9**t))
    smoothed = np.asarray(smoothed)
    assert min(raw) < min(smoothed)  # the raw curve dips below the smoothed one
    return LRFinderResult(
        learning_rates=lrs.tolist(),
        losses=raw.tolist(),
        smoothed_losses=smoothed.tolist(),
        suggestions={"valley": 1e-3, "steep": 3e-4, "minimum": 1e-2, "slide": None},
        method="valley",
        stopped_reason="completed 60 steps",
        monitor="loss",
        steps=60,
    )


def test_the_lr_finder_plot_shows_the_raw_losses_within_its_range():
    result = finder_result()
    fig, ax = plt.subplots()
    draw_lr_finder(ax, result)
    lines = lines_by_label(ax)
    np.testing.assert_allclose(lines["loss per batch"].get_ydata(), result.losses)
    low, high = ax.get_ylim()
    assert low <= min(result.losses)  # the raw minimum is not cut off
    assert high >= max(result.losses[:6])  # nor where the sweep started
    # Each suggestion is a vertical line at its rate (not a point on the
    # smoothed curve, which lags the raw one).
    for name in ("valley", "steep", "minimum"):
        (line,) = [v for k, v in lines.items() if k.startswith(name)]
        assert set(line.get_xdata()) == {result.suggestions[name]}
    assert not any(k.startswith("slide") for k in lines)
    plt.close(fig)


def test_search_plot_has_integer_trial_ticks(tmp_path, monkeypatch):
    trials = [
        {
            "trial_id": f"{i:02d}",
            "score": 0.5 + i / 10,
            "hyperparameters": {"optimizer": "adam", "learning_rate": 1e-3},
        }
        for i in range(3)
    ]
    figures = []
    monkeypatch.setattr(plt.Figure, "savefig", lambda fig, *a, **k: figures.append(fig))
    plot_search(trials, "val_accuracy", tmp_path / "search.png")
    left = figures[0].axes[0]
    figures[0].canvas.draw()
    ticks = [
        t for t in left.get_xticks() if left.get_xlim()[0] <= t <= left.get_xlim()[1]
    ]
    assert ticks and all(float(t).is_integer() for t in ticks)
