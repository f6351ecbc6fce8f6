"""The verdict on a pair of learning curves (pure NumPy)."""

import numpy as np

from keras_recipes._internal.curves import moving_average


def learning_curve_verdict(train_loss, val_loss, *, gap_ratio=1.3, underfit_loss=None):
    """ "over-fitting", "under-fitting" or "healthy", with the remedy.

    Over-fitting, either of:

    * the validation loss ends above its minimum (by 5 %, smoothed or raw)
      and above `gap_ratio` x the training loss (smoothed or raw);
    * at the last epoch, the raw validation loss is more than
      2 x `gap_ratio` x the raw training loss (a generalization gap a moving
      average would hide: train 0.06 against validation 0.25 on a short run).

    Under-fitting: the training loss stays above `underfit_loss` (by default,
    half the first epoch's). The remedy names the figures it is based on.
    """
    train_raw = np.asarray(train_loss, dtype="float64")
    val_raw = np.asarray(val_loss, dtype="float64")
    train, val = moving_average(train_raw), moving_average(val_raw)
    if underfit_loss is None:
        underfit_loss = 0.5 * train[0]
    gap = val_raw[-1] / max(train_raw[-1], 1e-12)
    rising = val[-1] > 1.05 * val.min() or val_raw[-1] > 1.05 * val_raw.min()
    above = val[-1] > gap_ratio * train[-1] or gap > gap_ratio
    if (rising and above) or gap > 2 * gap_ratio:
        minimum = f" and above its minimum {val_raw.min():.3g}" if rising else ""
        return "over-fitting", (
            f"at the last epoch the validation loss {val_raw[-1]:.3g} is "
            f"{gap:.1f}x the training loss {train_raw[-1]:.3g}{minimum}"
            ": more data or augmentation, stronger regularization (dropout, "
            "weight decay), a smaller model, or early stopping at the minimum"
        )
    if train[-1] > underfit_loss:
        return "under-fitting", (
            f"the training loss {train_raw[-1]:.3g} stays above half its first "
            f"epoch's ({train_raw[0]:.3g}): a bigger model, more epochs, a higher "
            "learning rate or less regularization"
        )
    return "healthy", "keep going: more epochs with early stopping, or tune"
