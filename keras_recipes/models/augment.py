"""Data augmentation with Keras's preprocessing layers, and test-time
augmentation (TTA).

`augmentation_layers` makes the random layers `build_cnn(augment=...)` puts
at the model's input: small shifts, rotations and zooms (and horizontal
flips where they make sense: not for digits or text). Keras runs them in
training only; at inference they pass the images through, so a saved model
needs nothing special. Each layer gets an explicit seed, drawn from Python's
generator as the builders seed dropout (`keras.utils.set_random_seed` fixes
it; `ResumableBackup` saves the seed states). Areas moved in from outside
the image are filled with 0, the mean of a standardized image.

`tta_predict` averages a model's predictions over a fixed set of shifted
(and, if asked, flipped) copies of each image.
"""

import random

import numpy as np

from keras_recipes._internal.validation import check_bool, check_int, check_number

DEFAULT_AUGMENTATION = {
    "translation": 0.1,
    "rotation": 0.05,
    "zoom": 0.1,
    "flip": False,
}


def augmentation_layers(augment):
    """The preprocessing layers for `augment`.

    Args:
        augment: `True` for `DEFAULT_AUGMENTATION`, or a dict with any of
            `translation` (a fraction of the height and width), `rotation` (a
            fraction of a full turn), `zoom` (a fraction), each in [0, 1),
            and `flip` (bool: random horizontal flips); a missing key takes
            the default, 0 turns one off.

    Returns:
        A list of Keras layers (empty if every amount is 0).
    """
    import keras

    if augment is True:
        augment = {}
    if not isinstance(augment, dict):
        raise TypeError(
            "`augment` must be True, False or a dict of translation, rotation, "
            f"zoom and flip. Received: augment={augment!r}"
        )
    unknown = set(augment) - set(DEFAULT_AUGMENTATION)
    if unknown:
        raise ValueError(
            f"`augment` has unknown keys {sorted(unknown)}; allowed: "
            f"{', '.join(DEFAULT_AUGMENTATION)}. Received: augment={augment!r}"
        )
    amounts = {**DEFAULT_AUGMENTATION, **augment}
    for key in ("translation", "rotation", "zoom"):
        check_number(f"augment['{key}']", amounts[key], low=0, high=1, high_open=True)
    check_bool("augment['flip']", amounts["flip"])
    fill = {"fill_mode": "constant", "fill_value": 0.0}

    def seed():
        return random.randint(1, 10**9)

    layers = []
    if amounts["flip"]:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed()))
    if amounts["translation"]:
        t = amounts["translation"]
        layers.append(keras.layers.RandomTranslation(t, t, seed=seed(), **fill))
    if amounts["rotation"]:
        layers.append(
            keras.layers.RandomRotation(amounts["rotation"], seed=seed(), **fill)
        )
    if amounts["zoom"]:
        layers.append(keras.layers.RandomZoom(amounts["zoom"], seed=seed(), **fill))
    return layers


def tta_predict(model, x, *, shift=1, flip=False, batch_size=256):
    """The model's predictions averaged over shifted (and flipped) copies.

    The copies: the images as they are, and moved by `shift` pixels up,
    down, left and right (the edge moved in filled with 0), and with
    `flip=True` the horizontal mirror of each. A fixed set: the same input
    gives the same prediction.

    Args:
        model: A model of images, `(samples, height, width[, channels])`.
        x: The images.
        shift: Pixels to shift by (0: no shifted copies).
        flip: Add horizontally flipped copies (not for digits or text).
        batch_size: Predict batch size.

    Returns:
        The mean prediction, of `model.predict(x)`'s shape.

    Example:

    >>> probabilities = tta_predict(model, x_test, shift=1)
    >>> accuracy = np.mean(probabilities.argmax(-1) == y_test)
    """
    x = np.asarray(x)
    if x.ndim not in (3, 4):
        raise ValueError(
            "`x` must hold images, (samples, height, width[, channels]). "
            f"Received: x of shape {x.shape}"
        )
    shift = check_int("shift", shift, low=0, high=min(x.shape[1:3]) - 1)
    flip = check_bool("flip", flip)
    batch_size = check_int("batch_size", batch_size, low=1, high=1 << 20)
    copies = [x]
    if shift:
        for axis in (1, 2):
            for sign in (1, -1):
                copies.append(_shifted(x, sign * shift, axis))
    if flip:
        copies += [np.flip(copy, axis=2) for copy in copies]
    predictions = [
        np.asarray(model.predict(copy, batch_size=batch_size, verbose=0))
        for copy in copies
    ]
    return np.mean(predictions, axis=0)


def _shifted(x, offset, axis):
    moved = np.roll(x, offset, axis=axis)
    edge = [slice(None)] * x.ndim
    edge[axis] = slice(0, offset) if offset > 0 else slice(offset, None)
    moved[tuple(edge)] = 0
    return moved
