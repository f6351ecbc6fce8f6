"""Predict labels with a finished train run, on its test split or new data.

Loads the run's best checkpoint (its SHA-256 checked), standardizes the
features with the run's training statistics (inputs.npz) and writes each
sample's label as the data names it (classes.json: strings, or 1..N, not
the model's output index), with its probability. When the input has labels,
the accuracy is printed too.

Usage:
    keras-recipes predict --run-dir runs/train-X            # its test split
    keras-recipes predict --run-dir runs/train-X --input new.csv
    keras-recipes predict --run-dir runs/train-X --input new.npz --output p.csv

--input: a .csv file with the run's feature columns (by name, in any order;
the label column, if there, is used for the accuracy), or a .npz file with
an array x (and y for the accuracy). Without it, the test split of the
run's own --dataset (same seed and fractions), whose accuracy is the run's
test accuracy. Writes --output (default RUN_DIR/predictions.csv): sample,
label, probability[, true_label].
"""

import csv
from pathlib import Path

import numpy as np

from keras_recipes.commands.common import (
    UsageError,
    add_batch_size,
    main_of,
    new_parser,
)


def build_parser(parser=None):
    """Fills `parser` (or a new one) with the flags of `predict`."""
    parser = new_parser(parser, __doc__)
    parser.add_argument(
        "--run-dir", required=True, help="the folder of a finished train run"
    )
    parser.add_argument(
        "--input",
        help=".csv (the run's feature columns) or .npz (array x) file; default: "
        "the test split of the run's dataset",
    )
    parser.add_argument(
        "--label-column",
        default=None,
        help="the label column of a .csv --input (default: the run's)",
    )
    parser.add_argument(
        "--output", help="the CSV to write (default RUN_DIR/predictions.csv)"
    )
    add_batch_size(parser)
    return parser


def run(args):
    """Runs `predict` with parsed arguments; returns the exit status."""
    from keras_recipes._internal.atomic import atomic_path, read_json
    from keras_recipes.runs import ARGS_FILE
    from keras_recipes.trained import load_classifier

    try:
        classifier = load_classifier(args.run_dir)
    except ValueError as error:
        raise UsageError(f"--run-dir {args.run_dir}: {error}") from None
    run_args = read_json(Path(args.run_dir) / ARGS_FILE) or {}
    label_column = args.label_column or run_args.get("label_column", "label")
    if args.input is None:
        x, labels, standardized = _test_split(classifier, run_args)
        source = f"the test split of {run_args.get('dataset')}"
    else:
        x, labels = _read_input(Path(args.input), classifier, label_column)
        standardized, source = False, args.input
    try:
        probabilities = classifier.probabilities(
            x, batch_size=args.batch_size, standardized=standardized
        )
    except ValueError as error:
        raise UsageError(f"--input {source}: {error}") from None
    ids = np.argmax(probabilities, axis=-1)
    predicted = [classifier.classes[i] for i in ids]
    output = Path(args.output or Path(args.run_dir) / "predictions.csv")
    header = ["sample", "label", "probability"] + (
        ["true_label"] * (labels is not None)
    )
    with atomic_path(output) as tmp, tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for i, (label, p) in enumerate(zip(predicted, probabilities, strict=True)):
            row = [i, label, f"{p[ids[i]]:.6f}"]
            writer.writerow(row + ([labels[i]] if labels is not None else []))
    print(f"{len(predicted)} samples of {source}: {output}")
    counts = {c: predicted.count(c) for c in classifier.classes if c in predicted}
    print("predicted: " + ", ".join(f"{c}: {n}" for c, n in counts.items()))
    if labels is not None:
        accuracy = np.mean(
            [str(p) == str(t) for p, t in zip(predicted, labels, strict=True)]
        )
        print(f"accuracy: {accuracy:.4f}")
    return 0


def _test_split(classifier, run_args):
    """The run's own test split (standardized by the loader), after checking
    that the loader standardizes as the run did: the data did not change."""
    from keras_recipes.data import load_dataset

    try:
        splits = load_dataset(
            run_args["dataset"],
            label_column=run_args.get("label_column", "label"),
            seed=run_args.get("seed", 0),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise UsageError(f"the run's dataset cannot be loaded: {error}") from None
    if splits.mean.shape != classifier.mean.shape or not np.allclose(
        splits.mean, classifier.mean, rtol=1e-5, atol=1e-6
    ):
        raise UsageError(
            f"the run's dataset {run_args['dataset']} changed since the run (its "
            "training split has other means): pass --input"
        )
    labels = [splits.classes[i] for i in splits.y_test]
    return splits.x_test, labels, True


def _read_input(path, classifier, label_column):
    """`(x, labels or None)` of a .csv or .npz file, features in the run's order."""
    from keras_recipes.data import plain_label, read_csv

    if path.suffix not in (".csv", ".npz") or not path.exists():
        raise UsageError(
            f"--input must be an existing .csv or .npz file. Received: {path}"
        )
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as arrays:
                if "x" not in arrays.files:
                    raise ValueError(f"it has no array 'x' ({sorted(arrays.files)})")
                y = arrays["y"].tolist() if "y" in arrays.files else None
                return arrays["x"], y
        x, y, names = read_csv(path, label_column, labels_required=False)
    except ValueError as error:
        raise UsageError(f"--input {path}: {error}") from None
    wanted = classifier.feature_names
    if wanted is not None:  # By name, in the run's order.
        missing = [name for name in wanted if name not in names]
        if missing:
            raise UsageError(
                f"--input {path} lacks the run's feature columns {missing} "
                f"(it has {', '.join(names)})"
            )
        x = x[:, [names.index(name) for name in wanted]]
    labels = None if y is None else [plain_label(v) for v in y.tolist()]
    return x, labels


def main(argv=None):
    """`keras-recipes predict`; returns the exit status."""
    return main_of(build_parser, run, argv)
