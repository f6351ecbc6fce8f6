"""Datasets: the embedded default (scikit-learn's bundled digits, no network).

More sources (`keras.datasets`, CSV / NPZ files) come with the recipe issue.
"""

from dataclasses import dataclass

import numpy as np

from keras_recipes._validation import check_number


@dataclass(frozen=True)
class Splits:
    """Standardized train / validation / test arrays and the class count."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int


def load_digits(validation_fraction=0.15, test_fraction=0.15, seed=0):
    """scikit-learn's bundled 8x8 digits (1,797 images, 10 classes), split.

    Pixels are flattened to 64 features and standardized with the training
    split's mean and standard deviation. The splits are stratified.

    Args:
        validation_fraction: Fraction of the samples for validation.
        test_fraction: Fraction of the samples for the test split.
        seed: Seed of the shuffle.

    Returns:
        A `Splits` of float32 features and int32 labels.

    Raises:
        ValueError: If the fractions are not in (0, 1) or leave no training data.

    Example:

    >>> splits = load_digits()
    >>> splits.x_train.shape, splits.num_classes
    ((1257, 64), 10)
    """
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    validation_fraction = check_number(
        "validation_fraction", validation_fraction, low=0, high=1, low_open=True,
        high_open=True,
    )  # fmt: skip
    test_fraction = check_number(
        "test_fraction", test_fraction, low=0, high=1, low_open=True, high_open=True
    )
    if validation_fraction + test_fraction >= 1:
        raise ValueError(
            "`validation_fraction + test_fraction` must be < 1. Received: "
            f"validation_fraction={validation_fraction}, test_fraction={test_fraction}"
        )
    digits = sklearn_digits()
    x = digits.data.astype("float32")
    y = digits.target.astype("int32")
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=test_fraction, stratify=y, random_state=seed
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest,
        y_rest,
        test_size=validation_fraction / (1 - test_fraction),
        stratify=y_rest,
        random_state=seed,
    )
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0) + 1e-6
    return Splits(
        x_train=(x_train - mean) / std,
        y_train=y_train,
        x_val=(x_val - mean) / std,
        y_val=y_val,
        x_test=(x_test - mean) / std,
        y_test=y_test,
        num_classes=10,
    )
