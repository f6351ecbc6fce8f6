import numpy as np
import pytest

from keras_recipes.data import load_dataset, load_digits


def test_digits_as_images_and_flat():
    images = load_dataset("digits")
    assert images.x_train.shape[1:] == (8, 8, 1) and images.is_image
    assert len(images.x_train) + len(images.x_val) + len(images.x_test) == 1797
    assert images.num_classes == 10
    flat = load_digits()
    assert flat.x_train.shape[1:] == (64,) and not flat.is_image
    np.testing.assert_array_equal(flat.y_test, images.y_test)
    # Standardized with the training split's statistics, all three splits.
    np.testing.assert_allclose(images.x_train.mean(axis=0), 0, atol=1e-5)
    # (each split standardized with its own statistics would have means 0)
    for split in (images.x_val, images.x_test):
        assert np.abs(split.reshape(len(split), -1).mean(axis=0)).max() > 0.05
    assert set(np.unique(images.y_val)) == set(range(10))  # stratified


def test_a_feature_constant_in_training_is_zero_everywhere():
    # Digits' left-edge pixels are blank in (almost) every image: where one is
    # blank in the whole training split but not in a test image, the test
    # value must not explode (it was ~1e6 with std + epsilon).
    for split in (load_digits(seed=s) for s in range(4)):
        for x in (split.x_train, split.x_val, split.x_test):
            assert np.isfinite(x).all() and np.abs(x).max() < 1e3  # was ~1e6
        constant = split.x_train.std(axis=0) == 0
        assert constant.any()
        assert (split.x_test[:, constant] == 0).all()
        assert (split.x_val[:, constant] == 0).all()


def test_features_of_any_scale_are_kept(tmp_path):
    rng = np.random.default_rng(0)
    x = np.stack([rng.normal(0, 0.3, 200), rng.normal(0, 1e6, 200)], axis=1)
    np.savez(tmp_path / "scales.npz", x=x, y=np.arange(200) % 2)
    splits = load_dataset(tmp_path / "scales.npz")
    np.testing.assert_allclose(splits.x_train.std(axis=0), 1, rtol=1e-3)


def test_npz_and_csv_files(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3))
    y = np.arange(100) % 4
    np.savez(tmp_path / "data.npz", x=x, y=y)
    splits = load_dataset(tmp_path / "data.npz", test_fraction=0.2)
    assert splits.x_train.shape[1] == 3 and splits.num_classes == 4
    assert len(splits.x_test) == 20

    rows = ["a,label,b"] + [f"{x[i, 0]},{y[i]},{x[i, 1]}" for i in range(100)]
    (tmp_path / "data.csv").write_text("\n".join(rows))
    splits = load_dataset(tmp_path / "data.csv")
    assert splits.x_train.shape[1] == 2 and splits.num_classes == 4


@pytest.mark.parametrize(
    "make, kwargs, match",
    [
        (None, {"source": "imagenet"}, r"`source` must be one of digits, mnist"),
        (None, {"source": "missing.npz"}, r"No such file: missing.npz"),
        ("npz-keys", {}, r"must hold arrays 'x' and 'y'; it has \['a'\]"),
        ("csv-label", {"label_column": "target"}, r"has no column 'target'.*a, b"),
        ("npz-float-labels", {}, r"fractional values .* like a regression target"),
        ("npz-one-class", {}, r"single class \(3 for all 30 samples\).*at least 2"),
        (
            "npz-nan",
            {},
            r"hold 2 NaN or Inf values, in 1 samples \(the first: sample 4\)",
        ),
        ("npz-rare", {}, r"Too few samples .* class 'rare' has 1"),
        ("npz-object", {}, r"Save string labels as a string array"),
        ("csv-text", {}, r"line 3, column 'b': 'n/a' is not a number"),
        ("csv-no-label", {}, r"line 2: no label in column 'label'"),
        ("npz-lengths", {}, r"`x` and `y` must have the same length"),
        (None, {"source": "digits", "test_fraction": 0.9}, r"must be < 1"),
    ],
)
def test_bad_input(tmp_path, make, kwargs, match):
    path = tmp_path / ("d.csv" if make and make.startswith("csv") else "d.npz")
    if make == "npz-keys":
        np.savez(path, a=np.ones(3))
    elif make == "csv-label":
        path.write_text("a,b\n1,2\n")
    elif make == "npz-float-labels":
        np.savez(path, x=np.ones((10, 2)), y=np.linspace(0, 1, 10))
    elif make == "npz-lengths":
        np.savez(path, x=np.ones((10, 2)), y=np.ones(9))
    elif make == "npz-one-class":
        np.savez(path, x=np.ones((30, 2)), y=np.full(30, 3))
    elif make == "npz-nan":
        x = np.ones((30, 2))
        x[4] = [np.nan, np.inf]
        np.savez(path, x=x, y=np.arange(30) % 2)
    elif make == "npz-rare":
        np.savez(path, x=np.ones((31, 2)), y=np.array(["a", "b"] * 15 + ["rare"]))
    elif make == "npz-object":
        np.savez(path, x=np.ones((4, 2)), y=np.array(["a", 1, None, 2.5], dtype=object))
    elif make == "csv-text":
        path.write_text("a,b,label\n1,2,0\n3,n/a,1\n")
    elif make == "csv-no-label":
        path.write_text("a,label\n1,\n2,1\n")
    kwargs = {"source": path, **kwargs}
    with pytest.raises(ValueError, match=match):
        load_dataset(**kwargs)


def test_labels_of_any_kind_become_class_ids_in_sorted_order(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 2))
    # 1..3 (not from 0): 3 classes, not 4; strings: their sorted order.
    for y, classes in [
        (np.arange(90) % 3 + 1, (1, 2, 3)),
        (np.array(["red", "green", "blue"] * 30), ("blue", "green", "red")),
    ]:
        np.savez(tmp_path / "d.npz", x=x, y=y)
        splits = load_dataset(tmp_path / "d.npz")
        assert splits.num_classes == 3 and splits.classes == classes
        for ids in (splits.y_train, splits.y_val, splits.y_test):
            assert set(np.unique(ids)) == {0, 1, 2}
    rows = ["f,label"] + [f"{x[i, 0]},{['cat', 'dog'][i % 2]}" for i in range(90)]
    (tmp_path / "d.csv").write_text("\n".join(rows))
    splits = load_dataset(tmp_path / "d.csv")
    assert splits.classes == ("cat", "dog") and splits.num_classes == 2
