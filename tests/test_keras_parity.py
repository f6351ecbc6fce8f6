"""Keras's own callback tests, ported to our `EarlyStopping`,
`PerformanceScheduling` and `BestCheckpoint`.

The substance of `keras/src/callbacks/early_stopping_test.py`,
`reduce_lr_on_plateau_test.py` and `model_checkpoint_test.py` (Keras 3.15):
the same arguments, the same inputs, and where both can run, Keras's callback
side by side with ours. Where we differ on purpose (the README's table
"Differences from Keras's callbacks"), the test says so and checks our side.
"""

import copy
import math
import pickle

import keras
import numpy as np
import pytest

import keras_recipes as kr
from tests.conftest import FeedMetric, ones, probe_model


def small_model(metrics=()):
    model = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(1, activation="relu")]
    )
    model.compile(loss="mae", optimizer="adam", metrics=list(metrics))
    return model


def data(n=10):
    rng = np.random.default_rng(0)
    return rng.random((n, 5)).astype("float32"), rng.random((n, 1)).astype("float32")


# ------------------------------------------------------------ EarlyStopping


KERAS_MODE_CASES = [
    ("max", "val_mse", "max"),
    ("min", "val_loss", "min"),
    ("auto", "val_mse", "min"),
    ("auto", "loss", "min"),
    ("auto", "acc", "max"),
    ("auto", "val_accuracy", "max"),
    ("auto", "hinge", "min"),
    ("auto", "f1_score", "max"),
]


@pytest.mark.parametrize("mode, monitor, expected", KERAS_MODE_CASES)
def test_mode_is_resolved_from_the_compiled_metrics(mode, monitor, expected):
    # Keras's case list; F1Score on one unit logs a one-element array.
    metrics = [
        "mse",
        "acc",
        "accuracy",
        "hinge",
        keras.metrics.F1Score(name="f1_score"),
    ]
    model = small_model(metrics)
    x, y = data()
    stopper = kr.EarlyStopping(monitor=monitor, mode=mode, patience=0)
    keras_stopper = keras.callbacks.EarlyStopping(monitor=monitor, mode=mode)
    model.fit(
        x, y, batch_size=5, validation_data=data(), epochs=2, verbose=0,
        callbacks=[stopper, keras_stopper],
    )  # fmt: skip
    assert stopper._tracker.mode == expected
    keras_op = "max" if keras_stopper.monitor_op is keras.ops.greater else "min"
    assert keras_op == expected


def test_unknown_monitor_is_an_error_naming_the_keys():
    model = small_model(["mse"])
    with pytest.raises(ValueError, match=r"monitors `unknown`.*Available keys: "):
        model.fit(
            *data(), epochs=1, verbose=0,
            callbacks=[kr.EarlyStopping(monitor="unknown")],
        )  # fmt: skip


def drive(callback, values, key="loss", model=None):
    """Calls the epoch hooks of a callback as a fit would; returns the
    number of epochs run."""
    callback.set_model(model or small_model())
    callback.model.stop_training = False
    callback.on_train_begin()
    for epoch, value in enumerate(values):
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, logs={key: value})
        if callback.model.stop_training:
            callback.on_train_end()
            return epoch + 1
    callback.on_train_end()
    return len(values)


@pytest.mark.parametrize("patience", [0, 1, 2, 3])
def test_patience_as_keras_counts_it(patience):
    losses = [10.0, 9.0, 8.0, 9.0, 8.9, 8.8, 8.7, 8.6, 8.5]
    ours = kr.EarlyStopping(monitor="loss", patience=patience)
    theirs = keras.callbacks.EarlyStopping(monitor="loss", patience=patience)
    assert drive(ours, losses) == drive(theirs, losses)
    # Keras: `stopped_epoch = max(patience, 1) + 2`, 0-based; ours is 1-based.
    assert theirs.stopped_epoch == max(patience, 1) + 2
    assert ours.stopped_epoch == theirs.stopped_epoch + 1


def test_reuse_across_fits_resets_the_state():
    stopper = kr.EarlyStopping(monitor="loss", patience=3)
    drive(stopper, [1.0, 2.0, 3.0, 4.0])
    assert stopper.stopped_epoch == 4 and stopper.best == 1.0
    stopper.on_train_begin()
    assert stopper.best is None and stopper.wait == 0
    assert stopper.stopped_epoch == 0 and stopper.best_epoch == 0
    assert stopper.best_weights is None


@pytest.mark.parametrize(
    "losses, baseline, patience, stop_at",
    [
        ([0.2, 0.15, 0.1, 0.11, 0.12], None, 2, 5),  # Keras: best epoch 2 (0-based)
        ([0.9, 0.8, 0.7, 0.71, 0.72, 0.73], 0.5, 5, 5),  # never beats the baseline
    ],
)
def test_best_weights_restored_as_keras_does(losses, baseline, patience, stop_at):
    model = probe_model(keras.optimizers.SGD(0.1))

    def run(callback):
        class SetKernel(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                self.model.layers[0].kernel.assign([[float(epoch)]])

        ran = model.fit(
            *ones(4), epochs=len(losses), verbose=0,
            callbacks=[SetKernel(), FeedMetric(losses, "val_loss"), callback],
        )  # fmt: skip
        return len(ran.history["loss"]), float(model.layers[0].kernel.numpy()[0, 0])

    kwargs = {"patience": patience, "baseline": baseline, "restore_best_weights": True}
    ours = run(kr.EarlyStopping("val_loss", **kwargs))
    theirs = run(keras.callbacks.EarlyStopping("val_loss", **kwargs))
    assert ours == theirs == (stop_at, float(np.argmin(losses)))


def test_start_from_epoch_with_patience_zero():
    stopper = kr.EarlyStopping("loss", patience=0, start_from_epoch=2)
    assert drive(stopper, [1.0, 2.0, 3.0, 4.0, 5.0]) == 4  # epochs 1-2 not watched


def test_a_nan_first_value_is_never_best_unlike_keras():
    losses = [math.nan, 0.5, 0.4, 0.3]
    theirs = keras.callbacks.EarlyStopping("loss", patience=2)
    ours = kr.EarlyStopping("loss", patience=2, check_finite=False)
    assert drive(theirs, losses) == 3  # Keras: NaN is best, nothing beats it
    assert drive(ours, losses) == 4 and ours.best == 0.3


# ------------------------------------------------ PerformanceScheduling


def plateau_model():
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(5), keras.layers.Dense(2)]
    )
    model.compile(loss="mse", optimizer=keras.optimizers.Adam(0.1))
    return model


def learning_rate_after(callback, epochs):
    model = plateau_model()
    rng = np.random.default_rng(0)
    x, y = rng.random((10, 3)), rng.random((10, 2))
    model.fit(
        x, y, validation_data=(x, y), epochs=epochs, verbose=0, callbacks=[callback]
    )
    return float(model.optimizer.learning_rate.numpy())


@pytest.mark.parametrize(
    "kwargs, epochs",
    [
        ({"patience": 1, "factor": 0.1, "min_delta": 100}, 2),  # reduces once
        ({"patience": 1, "factor": 0.1, "min_delta": 10}, 4),  # down to min_lr
        ({"patience": 0, "factor": 0.1, "min_delta": 100}, 3),  # Keras's patience=0
    ],
)
def test_reductions_as_reduce_lr_on_plateau(kwargs, epochs):
    theirs = keras.callbacks.ReduceLROnPlateau(
        monitor="val_loss", min_lr=0.005 if kwargs["min_delta"] == 10 else 0, **kwargs
    )
    ours = kr.PerformanceScheduling(
        monitor="val_loss",
        min_learning_rate=0.005 if kwargs["min_delta"] == 10 else 0,
        **kwargs,
    )
    assert learning_rate_after(ours, epochs) == pytest.approx(
        learning_rate_after(theirs, epochs)
    )


@pytest.mark.parametrize("cooldown", [1, 2, 3])
def test_cooldown_is_kerass_minus_one(cooldown):
    # Deliberate: our cooldown skips `cooldown` epochs (PyTorch), Keras's
    # skips `cooldown - 1`.
    kwargs = {"monitor": "val_loss", "patience": 1, "factor": 0.1, "min_delta": 100}
    ours = kr.PerformanceScheduling(cooldown=cooldown - 1, **kwargs)
    theirs = keras.callbacks.ReduceLROnPlateau(cooldown=cooldown, **kwargs)
    assert learning_rate_after(ours, 7) == pytest.approx(learning_rate_after(theirs, 7))


def test_scales_a_schedule_where_keras_raises():
    schedule = keras.optimizers.schedules.PolynomialDecay(0.1, decay_steps=10)
    kwargs = {"monitor": "val_loss", "patience": 1, "factor": 0.1, "min_delta": 100}
    model = plateau_model()
    model.compile(loss="mse", optimizer=keras.optimizers.Adam(schedule))
    x = np.ones((10, 3))
    with pytest.raises(TypeError, match="created with a `LearningRateSchedule`"):
        model.fit(
            x, x[:, :2], validation_data=(x, x[:, :2]), epochs=2, verbose=0,
            callbacks=[keras.callbacks.ReduceLROnPlateau(**kwargs)],
        )  # fmt: skip
    ours = kr.PerformanceScheduling(**kwargs)
    model.fit(
        x, x[:, :2], validation_data=(x, x[:, :2]), epochs=2, verbose=0,
        callbacks=[ours],
    )  # fmt: skip
    assert ours.scale == pytest.approx(0.1)


def test_reuse_across_fits_resets_the_plateau_state():
    callback = kr.PerformanceScheduling("loss", patience=1, cooldown=2)
    drive(callback, [1.0, 2.0], model=plateau_model())
    assert callback.cooldown_counter == 2
    callback.on_train_begin()
    assert callback.best is None and callback.wait == 0
    assert callback.cooldown_counter == 0


# ------------------------------------------------------------ BestCheckpoint


def checkpoint_fit(tmp_path, callback, epochs=5, batch_size=2, values=None):
    model = small_model(["mse"])
    x, y = data(6)
    callbacks = [FeedMetric(values, "val_loss")] if values else []
    model.fit(
        x, y, batch_size=batch_size, validation_data=(x, y), epochs=epochs,
        verbose=0, callbacks=[*callbacks, callback],
    )  # fmt: skip
    return sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".keras", ".h5"))


@pytest.mark.parametrize("save_weights_only", [False, True])
def test_save_best_only_false_keeps_every_epoch(tmp_path, save_weights_only):
    suffix = ".weights.h5" if save_weights_only else ".keras"
    path = str(tmp_path / ("model-{epoch:02d}" + suffix))
    theirs = keras.callbacks.ModelCheckpoint(
        path.replace("model", "keras"), save_best_only=False,
        save_weights_only=save_weights_only,
    )  # fmt: skip
    ours = kr.BestCheckpoint(
        path, save_best_only=False, save_weights_only=save_weights_only
    )
    names = checkpoint_fit(tmp_path, ours, epochs=3)
    checkpoint_fit(tmp_path, theirs, epochs=3)
    assert [n for n in names if n.startswith("model")] == [
        f"model-{e:02d}{suffix}" for e in (1, 2, 3)
    ]
    assert len(ours.kept) == 3
    assert [c["value"] for c in ours.kept] == sorted(c["value"] for c in ours.kept)


def test_save_best_only_keeps_the_best_as_keras(tmp_path):
    values = [0.5, 0.4, 0.45, 0.3, 0.35]
    ours = kr.BestCheckpoint(str(tmp_path / "ours-{epoch}.keras"))
    theirs = keras.callbacks.ModelCheckpoint(
        str(tmp_path / "keras-{epoch}.keras"), save_best_only=True
    )
    checkpoint_fit(tmp_path, ours, values=values)
    names = checkpoint_fit(tmp_path, theirs, values=values)
    # Keras keeps every improving epoch's file; we keep the best only.
    assert [n for n in names if n.startswith("keras")] == [
        "keras-1.keras", "keras-2.keras", "keras-4.keras"
    ]  # fmt: skip
    assert [n for n in names if n.startswith("ours")] == ["ours-4.keras"]
    assert ours.best == 0.3


def test_initial_value_threshold(tmp_path):
    values = [0.5, 0.4, 0.45, 0.3, 0.35]
    ours = kr.BestCheckpoint(
        str(tmp_path / "ours-{epoch}.keras"), initial_value_threshold=0.42
    )
    theirs = keras.callbacks.ModelCheckpoint(
        str(tmp_path / "keras-{epoch}.keras"), save_best_only=True,
        initial_value_threshold=0.42,
    )  # fmt: skip
    checkpoint_fit(tmp_path, ours, values=values)
    names = checkpoint_fit(tmp_path, theirs, values=values)
    assert "keras-1.keras" not in names and "keras-2.keras" in names
    assert [c["epoch"] for c in ours.kept] == [4]
    # Nothing better than the threshold: nothing saved.
    nothing = kr.BestCheckpoint(
        str(tmp_path / "none" / "m.keras"), initial_value_threshold=0.1
    )
    checkpoint_fit(tmp_path, nothing, values=values)
    assert nothing.kept == [] and nothing.best_path is None


def test_integer_save_freq_saves_every_n_batches(tmp_path):
    # 6 samples in batches of 2: 3 batches per epoch; save_freq=2 compares
    # after batches 2, 4 (epoch 2, batch 1) and 6 (epoch 2, batch 3).
    ours = kr.BestCheckpoint(
        str(tmp_path / "m-{epoch}-{batch}.keras"), monitor="loss",
        save_freq=2, save_best_only=False,
    )  # fmt: skip
    theirs = keras.callbacks.ModelCheckpoint(
        str(tmp_path / "k-{epoch}-{batch}.keras"), monitor="loss", save_freq=2
    )
    ours_names = checkpoint_fit(tmp_path, ours, epochs=2)
    names = checkpoint_fit(tmp_path, theirs, epochs=2)
    keras_names = [n.replace("k-", "m-") for n in names if n.startswith("k-")]
    assert [n for n in ours_names if n.startswith("m-")] == keras_names
    assert sorted((c["epoch"], c["batch"]) for c in ours.kept) == [
        (1, 2),
        (2, 1),
        (2, 3),
    ]
    # KerasTuner deep-copies callbacks: the batch hook follows the copy.
    for twin in (copy.deepcopy(ours), pickle.loads(pickle.dumps(ours))):
        assert twin.on_train_batch_end.__self__ is twin


def test_bad_save_freq_is_refused():
    with pytest.raises(ValueError, match=r"`save_freq` must be >= 1"):
        kr.BestCheckpoint("m.keras", save_freq=0)
    with pytest.raises(ValueError, match=r"`save_freq` must be 'epoch' or an int"):
        kr.BestCheckpoint("m.keras", save_freq="invalid_save_freq")
    with pytest.raises(TypeError, match=r"`save_freq` must be an integer"):
        kr.BestCheckpoint("m.keras", save_freq=2.5)


def test_differences_kept_on_purpose(tmp_path):
    # The README's table: an unknown monitor with a mode is a warning and a
    # no-op in Keras, an error listing the keys here...
    theirs = keras.callbacks.EarlyStopping(monitor="val_los", mode="min", patience=1)
    with pytest.warns(UserWarning, match="val_los"):
        assert drive(theirs, [1.0, 2.0, 3.0]) == 3
    ours = kr.EarlyStopping(monitor="val_los", mode="min", patience=1)
    with pytest.warns(UserWarning, match="no validation metrics"):
        with pytest.raises(ValueError, match=r"`val_los`, which was in no epoch"):
            drive(ours, [1.0, 2.0, 3.0])
    # With validation metrics in the logs, a typo is an error at once.
    with pytest.raises(ValueError, match=r"`val_los`.*Available keys: val_loss"):
        drive(kr.EarlyStopping("val_los", mode="min"), [1.0], key="val_loss")
    # ...the best weights are restored by default...
    assert keras.callbacks.EarlyStopping().restore_best_weights is False
    assert kr.EarlyStopping().restore_best_weights is True
    # ...and save_best_only=False saves every epoch but a non-finite one.
    every = kr.BestCheckpoint(str(tmp_path / "m-{epoch}.keras"), save_best_only=False)
    names = checkpoint_fit(tmp_path, every, epochs=3, values=[0.5, math.nan, 0.4])
    assert names == ["m-1.keras", "m-3.keras"]
