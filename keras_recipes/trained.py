"""A finished `keras-recipes train` run as a classifier of raw inputs.

The run folder holds what prediction needs besides the model: `classes.json`
(the label of each of the model's outputs), `inputs.npz` (the training
split's mean and standard deviation every split was standardized with, and a
CSV file's feature columns) and the best checkpoint (`best/`, whose size and
SHA-256 are checked before it is loaded). `load_classifier` reads and checks
them all; its `predict` takes features as they are in the data file and
returns the data's own labels.

Example:

>>> from keras_recipes.trained import load_classifier
>>> classifier = load_classifier("runs/train-20261202-101500")
>>> classifier.predict(x_new)          # e.g. array(['setosa', 'virginica'])
>>> classifier.probabilities(x_new)    # (samples, classes), columns in
...                                    # classifier.classes order
"""

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keras_recipes._internal.atomic import (
    StateFileError,
    atomic_path,
    read_json,
    write_json,
)
from keras_recipes._internal.validation import check_int, check_path
from keras_recipes.data import standardize

CLASSES_FILE = "classes.json"
INPUTS_FILE = "inputs.npz"
FINISHED_FILE = "metrics.json"


def write_inputs(run_dir, splits):
    """Writes `classes.json` and `inputs.npz` for `splits` (atomically)."""
    run_dir = Path(run_dir)
    write_json(run_dir / CLASSES_FILE, {"classes": list(splits.classes)})
    names = np.asarray(splits.feature_names or (), dtype=str)
    with atomic_path(run_dir / INPUTS_FILE) as tmp:
        np.savez(tmp, mean=splits.mean, std=splits.std, feature_names=names)


@dataclass(frozen=True)
class TrainedClassifier:
    """A trained model with the preprocessing and labels of its run.

    Attributes:
        model: The best checkpoint, loaded.
        classes: `classes[i]` is the label of the model's output i.
        mean, std: The standardization (per feature) the model was trained
            after; `std` is inf for a feature that was constant.
        feature_names: A CSV run's feature columns in the model's order
            (`None` for arrays and images).
        run_dir: The run folder.
    """

    model: object
    classes: tuple
    mean: np.ndarray
    std: np.ndarray
    feature_names: tuple
    run_dir: Path

    def probabilities(self, x, *, batch_size=256, standardized=False):
        """The model's class probabilities for raw features `x`.

        Args:
            x: Samples as in the data file (a CSV's feature columns in
                `feature_names` order, or images of the training shape; a
                flat row per image is reshaped).
            batch_size: Samples per predict batch.
            standardized: `True` if `x` is already standardized (a split of
                `keras_recipes.data.load_dataset`).

        Returns:
            A float array of shape `(samples, classes)`.
        """
        batch_size = check_int("batch_size", batch_size, low=1, high=1 << 20)
        x = self._samples(x)
        if not standardized:
            x = standardize(x, self.mean, self.std)
        return np.asarray(self.model.predict(x, batch_size=batch_size, verbose=0))

    def predict(self, x, **kwargs):
        """The label (from `classes`) of each sample of `x`; the arguments are
        those of `probabilities`."""
        ids = np.argmax(self.probabilities(x, **kwargs), axis=-1)
        return np.asarray(self.classes, dtype=object)[ids]

    def _samples(self, x):
        try:
            x = np.asarray(x, dtype="float32")
        except (TypeError, ValueError) as error:
            raise TypeError(f"`x` must be an array of numbers ({error}).") from None
        shape = self.mean.shape
        if x.ndim >= 1 and x.shape[1:] != shape and x[0].size == np.prod(shape):
            x = x.reshape((len(x), *shape))  # flat rows of images, (h, w) images
        if x.ndim < 1 or x.shape[1:] != shape:
            raise ValueError(
                f"`x` must hold samples of shape {shape} (what the model was "
                f"trained on). Received: x of shape {x.shape}"
            )
        if not np.all(np.isfinite(x)):
            raise ValueError(
                "`x` holds NaN or Inf values: fill or remove them first, as for "
                "training."
            )
        return x


def load_classifier(run_dir):
    """Loads a finished run's best model with its labels and inputs.

    Args:
        run_dir: The run folder (`--log-dir` of `keras-recipes train` or
            `keras-recipes fine-tune`).

    Returns:
        A `TrainedClassifier`.

    Raises:
        ValueError: If the folder holds no finished run (`metrics.json` is
            written last), or a file of it cannot be trusted (a
            `StateFileError` naming the file: a torn `inputs.npz`, classes
            that do not match the model's outputs, a damaged checkpoint).
    """
    import keras

    from keras_recipes.callbacks import best_checkpoint_path

    run_dir = Path(check_path("run_dir", run_dir))
    if not (run_dir / FINISHED_FILE).exists():
        raise ValueError(
            f"{run_dir} holds no finished train run (no {FINISHED_FILE}): finish "
            f"it (keras-recipes train --resume --log-dir {run_dir}) or pass the "
            f"folder of a finished run. Received: run_dir={str(run_dir)!r}"
        )
    fix = f"Train again into a new folder, or restore {run_dir} from a copy."
    classes = _read_classes(run_dir / CLASSES_FILE, fix)
    mean, std, names = _read_inputs(run_dir / INPUTS_FILE, fix)
    # train's best/, or fine-tune's last stage (fine_tune_K/, fine_tune/, or
    # head/ when it ran the head only).
    stages = sorted(
        run_dir.glob("fine_tune_*/best"), key=lambda p: int(p.parent.name[10:])
    )
    folders = [run_dir / "best", *reversed(stages), run_dir / "fine_tune" / "best"]
    folders.append(run_dir / "head" / "best")
    folder = next((f for f in folders if f.is_dir()), folders[0])
    path = best_checkpoint_path(folder)  # Size and SHA-256 checked.
    if path is None:
        raise StateFileError(f"{folder} holds no best checkpoint. {fix}")
    model = keras.models.load_model(path, compile=False)  # No optimizer needed.
    outputs, inputs = model.outputs[0].shape[-1], tuple(model.inputs[0].shape[1:])
    if outputs != len(classes) or inputs != mean.shape:
        raise StateFileError(
            f"{path} does not match its run's files: the model has {outputs} "
            f"outputs for input shape {inputs}; {CLASSES_FILE} has "
            f"{len(classes)} classes and {INPUTS_FILE} features of shape "
            f"{mean.shape}. {fix}"
        )
    return TrainedClassifier(model, classes, mean, std, names, run_dir)


def _read_classes(path, fix):
    data = read_json(path, fix=fix)
    classes = data.get("classes") if isinstance(data, dict) else None
    if (
        not isinstance(classes, list)
        or len(classes) < 2
        or not all(isinstance(c, (str, int)) for c in classes)
        or len({json.dumps(c) for c in classes}) != len(classes)
    ):
        raise StateFileError(
            f"{path} must hold {{'classes': [at least 2 distinct labels]}}. "
            f"Received: {data!r:.200}. {fix}"
        )
    return tuple(classes)


def _read_inputs(path, fix):
    try:
        with np.load(path, allow_pickle=False) as arrays:
            mean, std = arrays["mean"], arrays["std"]
            names = arrays["feature_names"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise StateFileError(f"{path} cannot be read ({error}). {fix}") from None
    if (
        mean.shape != std.shape
        or not np.all(np.isfinite(mean))
        or not np.all((std > 0) & ~np.isnan(std))
        or (names.size and (names.ndim != 1 or names.size != mean.size))
    ):
        raise StateFileError(
            f"{path} holds no valid standardization (mean {mean.shape}, std "
            f"{std.shape}: finite means, positive deviations, a name per "
            f"feature). {fix}"
        )
    return mean, std, tuple(names.tolist()) if names.size else None
