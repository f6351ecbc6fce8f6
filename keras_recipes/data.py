"""Datasets: the embedded default, Keras's downloadable ones, and your files.

* `"digits"`: scikit-learn's bundled 8x8 digits (1,797 images, 10 classes);
  no network needed, the default everywhere.
* `"mnist"`, `"fashion_mnist"`, `"cifar10"`: `keras.datasets` loaders (they
  download on first use, so they need a network).
* a `.npz` file with arrays `x` and `y`, or a `.csv` file with a header, a
  label column and numeric features.

`load_dataset` returns stratified train / validation / test splits,
standardized with the training split's statistics. Labels of any kind
(integers that do not start at 0, strings) are mapped to class ids 0..C-1 in
sorted order; `Splits.classes[i]` is the label of class id i (the model's
output i). Data a model cannot learn from is refused with the fix: NaN or
Inf features, a single class, fractional labels, too few samples of a class
for the stratified splits.
"""

import csv
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keras_recipes._internal.validation import check_int, check_number

KERAS_DATASETS = ("mnist", "fashion_mnist", "cifar10")
DATASETS = ("digits",) + KERAS_DATASETS


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
    classes: tuple = None  # classes[i]: the label of class id i
    # The training split's statistics every split was standardized with
    # (std is inf where a feature is constant: it becomes 0), and a CSV
    # file's feature columns in order.
    mean: np.ndarray = None
    std: np.ndarray = None
    feature_names: tuple = None

    @property
    def is_image(self):
        """Whether samples are images (height, width, channels)."""
        return self.x_train.ndim == 4

    def standardize(self, x):
        """Raw features as the model was trained on them (float32)."""
        return standardize(x, self.mean, self.std)


def standardize(x, mean, std):
    """`(x - mean) / std` as float32 (a constant feature, std inf, is 0)."""
    return ((np.asarray(x, dtype="float32") - mean) / std).astype("float32")


def load_dataset(
    source="digits",
    *,
    validation_fraction=0.15,
    test_fraction=0.15,
    label_column="label",
    seed=0,
):
    """Loads a dataset by name or path and splits it.

    Args:
        source: `"digits"`, `"mnist"`, `"fashion_mnist"`, `"cifar10"`, or the
            path of a `.npz` (arrays `x`, `y`) or `.csv` file.
        validation_fraction: Fraction of the samples for validation.
        test_fraction: Fraction for the test split (Keras datasets keep
            their own test split).
        label_column: Name of the label column of a CSV file.
        seed: Seed of the shuffle.

    Returns:
        A `Splits`: float32 features (images as (h, w, c)), int32 labels.

    Raises:
        ValueError: For an unknown name, a missing file, a wrong extension,
            mismatched lengths or a missing label column.

    Example:

    >>> splits = load_dataset("digits")
    >>> splits.x_train.shape, splits.num_classes
    ((1257, 8, 8, 1), 10)
    """
    _check_fractions(validation_fraction, test_fraction)
    seed = check_int("seed", seed, low=0, high=2**32 - 1)  # NumPy's seed range
    if not isinstance(label_column, str):
        raise TypeError(
            "`label_column` must be a column name (a str). Received: "
            f"label_column={label_column!r} of type {type(label_column).__name__}"
        )
    source = str(source)
    if source == "digits":
        from sklearn.datasets import load_digits as sklearn_digits

        digits = sklearn_digits()
        x = digits.images.astype("float32")[..., None]
        return split(x, digits.target, validation_fraction, test_fraction, seed)
    if source in KERAS_DATASETS:
        import keras

        loader = getattr(keras.datasets, source)
        (x, y), (x_test, y_test) = loader.load_data()
        x, x_test = _as_images(x), _as_images(x_test)
        return split(
            x, y.ravel(), validation_fraction, None, seed, x_test, y_test.ravel()
        )
    path = Path(source)
    if path.suffix not in (".npz", ".csv"):
        raise ValueError(
            f"`source` must be one of {', '.join(DATASETS)}, or a .npz or .csv "
            f"file. Received: source={source!r}"
        )
    if not path.exists():
        raise ValueError(f"No such file: {path}. Received: source={source!r}")
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as arrays:
            missing = {"x", "y"} - set(arrays.files)
            if missing:
                raise ValueError(
                    f"{path} must hold arrays 'x' and 'y'; it has "
                    f"{sorted(arrays.files)}"
                )
            try:
                x, y = arrays["x"], arrays["y"]
            except ValueError as error:  # An object array (pickled).
                raise ValueError(
                    f"{path}: {error}. Save string labels as a string array "
                    "(np.savez(path, x=x, y=np.asarray(labels, dtype=str))) and "
                    "features as a numeric array."
                ) from None
        return split(x, y, validation_fraction, test_fraction, seed)
    x, y, names = read_csv(path, label_column)
    splits = split(x, y, validation_fraction, test_fraction, seed)
    return dataclasses.replace(splits, feature_names=tuple(names))


def load_digits(validation_fraction=0.15, test_fraction=0.15, seed=0):
    """The digits with each image flattened to 64 features (for MLPs)."""
    splits = load_dataset(
        "digits",
        validation_fraction=validation_fraction,
        test_fraction=test_fraction,
        seed=seed,
    )
    flat = {
        name: getattr(splits, name).reshape(len(getattr(splits, name)), -1)
        for name in ("x_train", "x_val", "x_test")
    }
    return dataclasses.replace(splits, **flat)


def split(x, y, validation_fraction, test_fraction, seed, x_test=None, y_test=None):
    """Stratified splits, standardized with the training split's statistics.

    Labels are mapped to class ids 0..C-1 (sorted labels); see the module's
    docstring for what is refused.
    """
    from sklearn.model_selection import train_test_split

    try:
        x = np.asarray(x, dtype="float32")
    except (TypeError, ValueError) as error:
        raise ValueError(f"The features must be numbers: {error}") from None
    y = np.asarray(y)
    if len(x) != len(y):
        raise ValueError(
            f"`x` and `y` must have the same length. Received: len(x)={len(x)}, "
            f"len(y)={len(y)}"
        )
    _check_finite(x, "the features")
    classes, y = _class_ids(y)
    if x_test is not None:
        x_test = np.asarray(x_test, dtype="float32")
        _check_finite(x_test, "the test features")
        y_test = _ids_of(np.asarray(y_test), classes)
    try:
        if x_test is None:
            x, x_test, y, y_test = train_test_split(
                x, y, test_size=test_fraction, stratify=y, random_state=seed
            )
            rest = 1 - test_fraction
        else:
            rest = 1.0
        x_train, x_val, y_train, y_val = train_test_split(
            x, y, test_size=validation_fraction / rest, stratify=y, random_state=seed
        )
    except ValueError as error:
        counts = np.bincount(y, minlength=len(classes))
        rarest = int(np.argmin(counts))
        rare = plain_label(classes[rarest])
        raise ValueError(
            f"Too few samples for stratified train / validation / test splits "
            f"({error}): {len(y)} samples, and class {rare!r} has "
            f"{counts[rarest]}. Each class needs a few samples in every split: "
            "add data, merge rare classes, or change `validation_fraction` / "
            f"`test_fraction`. Received: validation_fraction={validation_fraction}, "
            f"test_fraction={test_fraction}"
        ) from None
    mean = x_train.mean(axis=0)
    # A feature constant in the training split (an always-blank pixel) carries
    # nothing the model could learn: it is 0 in every split. Dividing by its
    # std + epsilon instead turned a rare nonzero test pixel into ~1e6.
    constant = np.ptp(x_train, axis=0) == 0
    std = np.where(constant, np.inf, x_train.std(axis=0))
    return Splits(
        x_train=standardize(x_train, mean, std),
        y_train=y_train,
        x_val=standardize(x_val, mean, std),
        y_val=y_val,
        x_test=standardize(x_test, mean, std),
        y_test=np.asarray(y_test).astype("int32"),
        num_classes=len(classes),
        classes=tuple(plain_label(c) for c in classes),
        mean=mean,
        std=std,
    )


def _check_finite(x, what):
    bad = ~np.isfinite(x)
    if bad.any():
        rows = np.flatnonzero(bad.reshape(len(x), -1).any(axis=1))
        raise ValueError(
            f"{what.capitalize()} hold {int(bad.sum())} NaN or Inf values, in "
            f"{len(rows)} samples (the first: sample {int(rows[0])}). Remove "
            "those samples or fill the missing values (e.g. with the column "
            "mean) before training."
        )


def _class_ids(y):
    """`(classes, ids)`: the sorted distinct labels and each sample's index."""
    if y.ndim != 1:
        raise ValueError(
            "Labels must be a 1-D array, one label per sample. "
            f"Received: y of shape {y.shape}"
        )
    if np.issubdtype(y.dtype, np.number):
        if not np.all(np.isfinite(y)):
            raise ValueError("Labels hold NaN or Inf: every sample needs a class.")
        if np.any(y % 1):
            raise ValueError(
                "Labels must be classes (integers or strings); these have "
                f"fractional values (e.g. {y[np.flatnonzero(y % 1)[0]]}), like a "
                "regression target. This dataset loader is for classification."
            )
    elif y.dtype.kind not in "USb":
        raise ValueError(
            f"Labels must be integers or strings. Received: dtype {y.dtype}"
        )
    classes, ids = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            f"The labels hold a single class ({plain_label(classes[0])!r} for all "
            f"{len(y)} samples): a classifier needs at least 2. Check the label "
            "column (--label-column) or the file."
        )
    return classes, ids.astype("int32")


def _ids_of(y, classes):
    ids = np.searchsorted(classes, y)
    ids = np.clip(ids, 0, len(classes) - 1)
    unknown = classes[ids] != y
    if unknown.any():
        raise ValueError(
            f"The test labels hold {sorted(set(y[unknown].tolist()))[:5]}, "
            "absent from the training labels."
        )
    return ids.astype("int32")


def plain_label(value):
    """A label as a plain Python value (for JSON and messages)."""
    value = value.item() if hasattr(value, "item") else value
    return int(value) if isinstance(value, float) and value.is_integer() else value


def read_csv(path, label_column, *, labels_required=True):
    """A CSV file's `(features, labels, feature names)`: the features as
    float64 (an empty cell is NaN), the labels as numbers or strings, or
    `None` without a label column when `labels_required=False`."""
    path = Path(path)
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ValueError(f"{path} is empty.")
    header, body = rows[0], rows[1:]
    if label_column not in header and labels_required:
        raise ValueError(
            f"{path} has no column {label_column!r} for the labels. Columns: "
            f"{', '.join(header)}. Pass the label column's name "
            "(`label_column`; --label-column on the command line)."
        )
    index = header.index(label_column) if label_column in header else None
    names = [name for i, name in enumerate(header) if i != index]
    features = np.empty((len(body), len(names)), dtype="float64")
    for r, row in enumerate(body):
        if len(row) != len(header):
            raise ValueError(
                f"{path}, line {r + 2}: {len(row)} values for {len(header)} columns."
            )
        cells = [cell for i, cell in enumerate(row) if i != index]
        for c, cell in enumerate(cells):
            text = cell.strip()
            try:
                features[r, c] = float(text) if text else np.nan  # missing: NaN
            except ValueError:
                raise ValueError(
                    f"{path}, line {r + 2}, column {names[c]!r}: {cell!r} is not "
                    "a number. The features must be numbers (encode categories "
                    "as numbers first)."
                ) from None
    if index is None:
        return features, None, names
    labels = [row[index].strip() for row in body]
    if "" in labels:
        raise ValueError(
            f"{path}, line {labels.index('') + 2}: no label in column "
            f"{label_column!r}. Every sample needs a class."
        )
    try:
        y = np.array([float(label) for label in labels])
    except ValueError:
        y = np.array(labels)  # string classes
    return features, y, names


def _as_images(x):
    x = np.asarray(x, dtype="float32") / 255.0
    return x[..., None] if x.ndim == 3 else x


def _check_fractions(validation_fraction, test_fraction):
    for name, value in (("validation_fraction", validation_fraction),
                        ("test_fraction", test_fraction)):  # fmt: skip
        check_number(name, value, low=0, high=1, low_open=True, high_open=True)
    if validation_fraction + test_fraction >= 1:
        raise ValueError(
            "`validation_fraction + test_fraction` must be < 1. Received: "
            f"validation_fraction={validation_fraction}, test_fraction={test_fraction}"
        )
