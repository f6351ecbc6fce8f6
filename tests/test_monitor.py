import math
import warnings

import numpy as np
import pytest

from keras_recipes.callbacks._monitor import Monitor, resolve_mode


@pytest.mark.parametrize(
    "monitor, expected",
    [
        ("val_loss", "min"),
        ("loss", "min"),
        ("val_mean_absolute_error", "min"),
        ("val_accuracy", "max"),
        ("sparse_categorical_accuracy", "max"),
        ("val_auc", "max"),
    ],
)
def test_auto_mode_from_name(monitor, expected):
    assert resolve_mode(monitor, "auto") == expected


@pytest.mark.parametrize(
    "sequence", [[math.nan, 0.5, 0.4, 0.3], [math.inf, 0.5, 0.4, 0.3]]
)
def test_non_finite_first_value_never_becomes_best(sequence):
    monitor = Monitor("val_loss")
    improvements = [monitor.update(v) for v in sequence]
    assert improvements == [False, True, True, True]
    assert monitor.best == 0.3


def test_min_delta_and_max_mode():
    monitor = Monitor("val_accuracy", min_delta=0.01)
    assert monitor.update(0.5)
    assert not monitor.update(0.505)
    assert monitor.update(0.52)
    assert not monitor.update(math.nan)
    assert monitor.best == 0.52


def test_missing_key_lists_available_keys():
    with pytest.raises(ValueError, match=r"Available keys: accuracy, loss\."):
        Monitor("score", owner="X").value({"loss": 1.0, "accuracy": 0.5})
    with pytest.raises(ValueError, match=r"Available keys: loss, val_acc\."):
        Monitor("val_loss", owner="X").value({"loss": 1.0, "val_acc": 0.5})


def test_an_epoch_without_validation_is_skipped_once_warned():
    # `fit(validation_freq=2)`: the odd epochs' logs hold no `val_` key.
    monitor = Monitor("val_loss", owner="X")
    with pytest.warns(UserWarning, match="X monitors `val_loss`.*validation_freq"):
        assert monitor.value({"loss": 1.0}) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Warned once.
        assert monitor.value({"loss": 1.0}) is None
        assert monitor.value({"loss": 1.0, "val_loss": 0.5}) == 0.5
    monitor.check_seen()  # An epoch validated.
    monitor.start_fit()
    assert monitor.value({"loss": 1.0}) is None
    with pytest.raises(ValueError, match=r"`val_loss`, which was in no epoch's logs"):
        monitor.check_seen()


def multi_output_history():
    """One fit of a two-output model whose output names hold metric words."""
    import keras

    inputs = keras.Input((4,))
    outputs = {
        # The layers named as their outputs (Keras 3.8 names a model's
        # outputs after their layers).
        "accuracy_head": keras.layers.Dense(
            3, activation="softmax", name="accuracy_head"
        )(inputs),
        "auc": keras.layers.Dense(1, name="auc")(inputs),
    }
    model = keras.Model(inputs, outputs)
    model.compile(
        "adam",
        loss={"accuracy_head": "sparse_categorical_crossentropy", "auc": "mse"},
        metrics={
            "accuracy_head": ["accuracy"],
            "auc": ["mae", keras.metrics.R2Score(), keras.metrics.PearsonCorrelation()],
        },
    )
    rng = np.random.default_rng(0)
    x = rng.random((16, 4)).astype("float32")
    y = {"accuracy_head": rng.integers(0, 3, 16), "auc": rng.random((16, 1))}
    logs = model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y)).history
    return model, {key: values[-1] for key, values in logs.items()}


@pytest.mark.slow
def test_auto_mode_on_a_multi_output_model():
    model, logs = multi_output_history()
    expected = {
        # Every loss is minimised, whatever its output is called.
        "loss": "min", "val_loss": "min",
        "accuracy_head_loss": "min", "val_accuracy_head_loss": "min",
        "auc_loss": "min", "val_auc_loss": "min",
        # A compiled metric goes its own way: `auc_mae` is an error.
        "accuracy_head_accuracy": "max", "val_auc_mae": "min",
        "auc_r2_score": "max",
        # No known word: only the compiled metric says (up).
        "val_auc_pearson_correlation": "max",
    }  # fmt: skip
    for key, mode in expected.items():
        monitor = Monitor(key)
        monitor.value(logs, model)
        assert monitor.mode == mode, key


def test_missing_key_is_reported_before_the_mode():
    # A typo under mode="auto": the message names the missing key.
    model, logs = multi_output_history()
    with pytest.raises(ValueError, match=r"`val_accuracy_head_acuracy`, which is not"):
        Monitor("val_accuracy_head_acuracy").value(logs, model)


def test_array_valued_metrics():
    monitor = Monitor("f1_score", mode="max")
    assert monitor.value({"f1_score": np.array([0.25], "float32")}) == 0.25
    with pytest.raises(ValueError, match=r"`f1_score`, which holds 3 values"):
        monitor.value({"f1_score": np.array([0.1, 0.2, 0.3])})


@pytest.mark.parametrize(
    "monitor, expected",
    [
        ("val_out_f1_score", "max"),
        ("head_mean_squared_error", "min"),
        ("kl_divergence", "min"),
        ("lossless_accuracy", "max"),  # whole words: not a loss
    ],
)
def test_auto_mode_by_whole_words(monitor, expected):
    assert resolve_mode(monitor, "auto") == expected


@pytest.mark.parametrize("monitor", ["score", "accuracy_ratio", "val_mseq"])
def test_undecidable_names_are_an_error(monitor):
    with pytest.raises(ValueError, match=r"Pass mode='min' or mode='max'"):
        resolve_mode(monitor, "auto")
