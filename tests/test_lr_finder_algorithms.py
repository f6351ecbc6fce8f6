"""The LR finder's NumPy algorithms on curves with known answers."""

import math

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from keras_recipes.lr_finder.algorithms import (
    DivergenceWatch,
    clean_curve,
    divergence_index,
    smooth,
    suggest_all,
    suggest_minimum,
    suggest_slide,
    suggest_steep,
    suggest_valley,
)

LRS = np.logspace(-7, 1, 100)


def test_smooth_is_bias_corrected_ema():
    losses = np.array([3.0, 1.0, 2.0, 5.0])
    beta = 0.9
    expected, average = [], 0.0
    for t, x in enumerate(losses):
        average = beta * average + (1 - beta) * x
        expected.append(average / (1 - beta ** (t + 1)))
    np.testing.assert_allclose(smooth(losses, beta), expected)
    # Bias correction: a constant curve stays constant from the first point.
    np.testing.assert_allclose(smooth(np.full(10, 2.5)), np.full(10, 2.5))
    np.testing.assert_allclose(smooth(losses, beta=0.0), losses)


def test_smooth_is_poisoned_by_the_first_non_finite_loss():
    smoothed = smooth([1.0, 0.9, math.nan, 0.5, 0.4])
    assert np.isfinite(smoothed[:2]).all() and np.isnan(smoothed[2:]).all()


@pytest.mark.parametrize(
    "curve, threshold, expected",
    [
        ([1.0, 0.9, 0.8, 3.1], 4.0, None),
        ([1.0, 0.5, 2.1, 0.1], 4.0, 2),
        ([1.0, 0.5, math.inf], 4.0, 2),
        ([1.0, math.nan, 0.5], None, 1),
        ([1.0, 0.5, 100.0], None, None),
    ],
)
def test_divergence_index(curve, threshold, expected):
    assert divergence_index(curve, threshold) == expected


@example(losses=[10.0, 1.0, 1.4, 2.0], beta=0.0, threshold=1.5)
@given(
    losses=st.lists(
        st.one_of(
            st.floats(0.0, 50.0),
            # Few values: rises after a fall, ties and the threshold's edge.
            st.sampled_from([0.0, 1.0, 1.4, 1.5, 2.0, 6.0, math.nan, math.inf]),
        ),
        min_size=1,
        max_size=60,
    ),
    beta=st.sampled_from([0.0, 0.5, 0.98]),
    threshold=st.sampled_from([None, 1.5, 4.0]),
)
def test_the_watch_stops_where_the_whole_curve_diverges(losses, beta, threshold):
    # The finder adds one loss a step and stops at the first `True`.
    watch = DivergenceWatch(beta, threshold)
    stop = next((t for t, loss in enumerate(losses) if watch.add(loss)), None)
    smoothed = smooth(losses, beta)
    assert stop == divergence_index(smoothed, threshold)
    if stop is None:
        np.testing.assert_allclose(watch.smoothed, smoothed[-1], rtol=1e-12)


def test_clean_curve_trims_and_stops_before_nan():
    losses = np.linspace(2, 1, 100)
    losses[60] = math.nan
    lrs, clean = clean_curve(LRS, losses)
    # The first tenth of the 60 finite points and the last 5 are dropped.
    assert lrs[0] == LRS[6] and lrs[-1] == LRS[54]
    assert np.isfinite(clean).all()


def u_curve(minimum_at):
    """Decreasing strictly up to `minimum_at`, then increasing."""
    x = np.arange(100)
    return np.where(
        x <= minimum_at,
        3.0 - 0.02 * x,
        3.0 - 0.02 * minimum_at + 0.1 * (x - minimum_at),
    )


def test_valley_lies_in_the_middle_third_of_the_longest_descent():
    lr = suggest_valley(LRS, u_curve(60))
    index = int(np.argmin(np.abs(LRS - lr)))
    assert 20 <= index <= 40  # fastai: start + n/3 + n/6 of the stretch 0..60
    # The longest descent wins over an earlier, shorter one.
    curve = np.concatenate(
        [np.linspace(3, 2, 10), np.linspace(4, 1, 60), np.linspace(1, 9, 30)]
    )
    index = int(np.argmin(np.abs(LRS - suggest_valley(LRS, curve))))
    assert 10 + 15 <= index <= 10 + 40


def test_steep_finds_the_steepest_descent():
    centre = 1e-3
    losses = 2.0 - np.tanh(np.log(LRS / centre))
    lr = suggest_steep(LRS, losses)
    assert lr == pytest.approx(centre, rel=0.25)


def test_minimum_is_a_tenth_of_the_lowest_point():
    assert suggest_minimum(LRS, u_curve(70)) == pytest.approx(LRS[70] / 10)


def test_slide_stops_where_the_descent_levels_off():
    # Flat, a steady descent from index 30 on, and a blow-up after 85.
    x = np.arange(100)
    losses = np.where(x < 30, 3.0, 3.0 - 0.02 * (x - 30))
    losses = np.where(x > 85, losses[85] + 0.5 * (x - 85), losses)
    lr = suggest_slide(LRS, losses)
    index = int(np.argmin(np.abs(LRS - lr)))
    assert 30 <= index <= 85


def test_suggestions_ignore_what_follows_a_nan():
    losses = u_curve(80).astype(float)
    losses[50] = math.nan
    suggestions = suggest_all(LRS, smooth(losses, beta=0.0))
    assert set(suggestions) == {"valley", "steep", "minimum", "slide"}
    for name, lr in suggestions.items():
        assert lr <= LRS[50], name
    # The minimum before the NaN (index 44 after trimming the last 5).
    assert suggestions["minimum"] == pytest.approx(LRS[44] / 10)


def test_too_short_curves_give_none():
    suggestions = suggest_all(LRS[:2], [1.0, math.nan])
    assert suggestions == dict.fromkeys(["valley", "steep", "minimum", "slide"])


def test_valley_skips_a_noise_free_plateau_that_fastai_counts():
    # A loss that creeps down by 1e-6 a step, then falls from index 60 to 80.
    x = np.arange(100)
    losses = 3.0 - 1e-6 * x - np.clip((x - 60) / 20, 0, 1) * 2.0
    losses[80:] += 0.5 * (x[80:] - 80)
    fastai = int(np.argmin(np.abs(LRS - suggest_valley(LRS, losses, min_drop=0))))
    ours = int(np.argmin(np.abs(LRS - suggest_valley(LRS, losses))))
    assert fastai < 60  # fastai's valley starts on the plateau
    assert 60 <= ours < 80  # ours lands in the descent


@pytest.mark.parametrize("seed", range(5))
def test_valley_lands_in_the_descent_of_a_noisy_curve(seed):
    rng = np.random.default_rng(seed)
    x = np.arange(100)
    losses = 3.0 + 0.05 * rng.normal(size=100) - np.clip((x - 60) / 20, 0, 1) * 2.0
    lr = suggest_valley(LRS, smooth(losses))
    # The smoothed descent lags the raw one by a few points.
    assert LRS[60] <= lr <= LRS[85]
