"""The verdict on a pair of learning curves (pure NumPy)."""

from keras_recipes._internal.curves import moving_average


def learning_curve_verdict(train_loss, val_loss, *, gap_ratio=1.3, underfit_loss=None):
    """ "over-fitting", "under-fitting" or "healthy", with the remedy.

    Over-fitting: the smoothed validation loss ends above its minimum and
    above `gap_ratio` x the training loss. Under-fitting: the training loss
    stays above `underfit_loss` (by default, half the first epoch's) or
    still falls steeply at the end.
    """
    train = moving_average(train_loss)
    val = moving_average(val_loss)
    if underfit_loss is None:
        underfit_loss = 0.5 * train[0]
    if val[-1] > gap_ratio * train[-1] and val[-1] > 1.05 * val.min():
        return "over-fitting", (
            "more data or augmentation, stronger regularization (dropout, "
            "weight decay), a smaller model, or early stopping at the minimum"
        )
    if train[-1] > underfit_loss:
        return "under-fitting", (
            "a bigger model, more epochs, a higher learning rate or less regularization"
        )
    return "healthy", "keep going: more epochs with early stopping, or tune"
