"""`keras-recipes predict` and `keras_recipes.trained.load_classifier`: a
finished train run predicts the data's own labels from raw features."""

import csv
import json
import shutil

import numpy as np
import pytest

from keras_recipes import cli
from keras_recipes.data import load_dataset
from keras_recipes.trained import load_classifier

# One smoke run serves every test (a trained model is what they need, on any
# backend: loading and predicting is Keras's own work).
pytestmark = pytest.mark.backend_independent

NAMES = np.array(["setosa", "versicolor", "virginica"])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """`(run folder, data file)`: a CSV of string labels whose features sit far
    from 0 with large spreads (unstandardized, the model sees nonsense)."""
    folder = tmp_path_factory.mktemp("predict")
    rng = np.random.default_rng(0)
    labels = NAMES[np.arange(120) % 3]
    x = rng.normal(size=(120, 3))
    x[:, 0] += 3 * (np.arange(120) % 3)  # learnable
    x = x * [50, 0.01, 7] + [1000, -5, 300]
    rows = [["a", "species", "b", "c"]]
    rows += [[a, label, b, c] for label, (a, b, c) in zip(labels, x, strict=True)]
    data = folder / "flowers.csv"
    with data.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    run_dir = folder / "run"
    argv = ["train", "--smoke", "--model", "mlp", "--dataset", str(data)]
    argv += ["--label-column", "species", "--log-dir", str(run_dir)]
    assert cli.main(argv) == 0
    return run_dir, data


def predict(capsys, *argv):
    """`(exit status, stdout, stderr)` of `keras-recipes predict ARGV`."""
    try:
        code = cli.main(["predict", *argv])
    except SystemExit as exit_info:
        code = exit_info.code
    out, err = capsys.readouterr()
    return code, out, err


def read_predictions(path):
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def raw_test_split(run_dir, data):
    """The run's test split in raw units, and its labels."""
    splits = load_dataset(data, label_column="species")
    return splits.x_test * splits.std + splits.mean, [
        splits.classes[i] for i in splits.y_test
    ]


@pytest.mark.slow
def test_the_runs_test_split_gives_the_runs_test_accuracy(run, capsys):
    run_dir, _ = run
    code, out, _ = predict(capsys, "--run-dir", str(run_dir))
    assert code == 0
    accuracy = json.loads((run_dir / "metrics.json").read_text())["test_accuracy"]
    assert f"accuracy: {accuracy:.4f}" in out
    rows = read_predictions(run_dir / "predictions.csv")
    assert len(rows) == 18  # 15 % of 120: the test split
    assert {row["label"] for row in rows} <= set(NAMES)  # the data's labels
    assert all(0 < float(row["probability"]) <= 1 for row in rows)


def test_raw_features_are_standardized_as_in_training(run, capsys, tmp_path):
    run_dir, data = run
    predict(capsys, "--run-dir", str(run_dir))
    expected = [row["label"] for row in read_predictions(run_dir / "predictions.csv")]
    x_raw, labels = raw_test_split(run_dir, data)
    # Columns in another order, the label column last: matched by name.
    new = tmp_path / "new.csv"
    with new.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["c", "b", "a", "species"])
        for (a, b, c), label in zip(x_raw, labels, strict=True):
            writer.writerow([c, b, a, label])
    output = tmp_path / "out.csv"
    code, out, _ = predict(
        capsys, "--run-dir", str(run_dir), "--input", str(new), "--output", str(output)
    )
    assert code == 0
    assert [row["label"] for row in read_predictions(output)] == expected
    assert [row["true_label"] for row in read_predictions(output)] == labels
    classifier = load_classifier(run_dir)
    assert classifier.feature_names == ("a", "b", "c")
    assert classifier.predict(x_raw).tolist() == expected
    # The same raw arrays unstandardized would be another model's input:
    # the run's data sits far from 0, so skipping the step changes labels.
    unscaled = classifier.predict(x_raw, standardized=True).tolist()
    assert unscaled != expected
    np.savez(tmp_path / "new.npz", x=x_raw)
    code, out, _ = predict(
        capsys, "--run-dir", str(run_dir), "--input", str(tmp_path / "new.npz"),
        "--output", str(output),
    )  # fmt: skip
    assert code == 0 and "accuracy" not in out  # no labels in the file
    assert [row["label"] for row in read_predictions(output)] == expected


def broken_copy(run_dir, data, tmp_path, case):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    (copy / "predictions.csv").unlink(missing_ok=True)
    if case == "unfinished":
        (copy / "metrics.json").unlink()
    elif case == "torn inputs":
        (copy / "inputs.npz").write_bytes((copy / "inputs.npz").read_bytes()[:50])
    elif case == "classes":
        (copy / "classes.json").write_text(json.dumps({"classes": ["a", "b"]}))
    elif case == "checkpoint":
        best = next((copy / "best").glob("*.keras"))
        best.write_bytes(best.read_bytes()[:-10])
    elif case == "data changed":  # A column of the run's file rescaled.
        rows = list(csv.reader(data.open(newline="")))
        rows[1:] = [[float(r[0]) * 2, *r[1:]] for r in rows[1:]]
        changed = tmp_path / "flowers.csv"
        with changed.open("w", newline="") as f:
            csv.writer(f).writerows(rows)
        args = json.loads((copy / "args.json").read_text())
        (copy / "args.json").write_text(json.dumps({**args, "dataset": str(changed)}))
    return copy


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("unfinished", "holds no finished train run (no metrics.json)"),
        ("torn inputs", "inputs.npz cannot be read"),
        ("classes", "has 3 outputs for input shape (3,); classes.json has 2 classes"),
        ("checkpoint", "size"),
        ("data changed", "changed since the run (its training split has other means)"),
    ],
)
def test_a_run_that_cannot_be_trusted_is_refused(run, capsys, tmp_path, case, message):
    copy = broken_copy(*run, tmp_path, case)
    code, out, err = predict(capsys, "--run-dir", str(copy))
    assert code == 2
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and lines[0].startswith("keras-recipes predict: error:")
    assert message in " ".join(err.split())
    assert "Traceback" not in out + err
    assert not (copy / "predictions.csv").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a,b\n1,2\n", "lacks the run's feature columns ['c']"),
        ("a,b,c\n1,,2\n", "NaN or Inf"),
        ("a,b,c\n1,x,2\n", "'x' is not a number"),
        (np.zeros((2, 4)), "samples of shape (3,)"),
    ],
)
def test_bad_input_is_one_line_and_nothing_is_written(
    run, capsys, tmp_path, content, message
):
    if isinstance(content, str):
        path = tmp_path / "bad.csv"
        path.write_text(content)
    else:
        path = tmp_path / "bad.npz"
        np.savez(path, x=content)
    output = tmp_path / "out.csv"
    code, out, err = predict(
        capsys, "--run-dir", str(run[0]), "--input", str(path), "--output", str(output)
    )
    assert code == 2
    assert message in " ".join(err.split()), err
    assert "Traceback" not in out + err
    assert not output.exists()
