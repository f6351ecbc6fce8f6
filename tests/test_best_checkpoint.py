import json
import math

import keras
import numpy as np
import pytest

import keras_recipes as kr
from tests.conftest import KERAS_KEEPS_A_NAN_BEST, FeedMetric


def small_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    return model


def fit(model, values, callback, key="score", initial_epoch=0):
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 2), "float32")
    snapshots = {}

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots[epoch + 1] = [w.numpy().copy() for w in self.model.weights]

    model.fit(
        x, y, epochs=initial_epoch + len(values), initial_epoch=initial_epoch,
        verbose=0, callbacks=[FeedMetric([None] * initial_epoch + values, key),
                              Snapshot(), callback],
    )  # fmt: skip
    return snapshots


def manifest(path):
    return json.loads(path.read_text())


def test_nan_first_is_never_best(tmp_path):
    checkpoint = kr.BestCheckpoint(tmp_path / "best.keras", monitor="score", mode="min")
    snapshots = fit(small_model(), [math.nan, 0.5, 0.4, 0.3], checkpoint)
    assert checkpoint.best == 0.3
    saved = manifest(tmp_path / "checkpoints.json")
    assert saved["best"]["epoch"] == 4 and saved["best"]["value"] == 0.3
    loaded = keras.models.load_model(checkpoint.best_path)
    for a, b in zip(loaded.weights, snapshots[4], strict=True):
        np.testing.assert_array_equal(a.numpy(), b)
    assert len(list(tmp_path.glob("*.keras"))) == 1  # older bests deleted


def test_keras_modelcheckpoint_and_a_nan_first_epoch(tmp_path):
    # The trap this callback fixes (a NaN first value is kept as best), kept as
    # a regression guard.
    keras_checkpoint = keras.callbacks.ModelCheckpoint(
        tmp_path / "k.keras", monitor="score", mode="min", save_best_only=True
    )
    fit(small_model(), [math.nan, 0.5, 0.4, 0.3], keras_checkpoint)
    if KERAS_KEEPS_A_NAN_BEST:
        assert math.isnan(keras_checkpoint.best)
    else:
        assert keras_checkpoint.best == 0.3


def test_top_k_keeps_the_k_best_and_deletes_the_rest(tmp_path):
    checkpoint = kr.BestCheckpoint(
        str(tmp_path / "e{epoch:02d}.keras"), monitor="score", mode="min",
        save_top_k=2, save_last=True,
    )  # fmt: skip
    fit(small_model(), [0.5, 0.3, math.inf, 0.4, 0.2, 0.6], checkpoint)
    assert [c["epoch"] for c in checkpoint.kept] == [5, 2]
    files = sorted(p.name for p in tmp_path.glob("*.keras"))
    assert files == ["e02.keras", "e05.keras", "last.keras"]
    saved = manifest(tmp_path / "checkpoints.json")
    assert [c["value"] for c in saved["checkpoints"]] == [0.2, 0.3]
    assert saved["last"]["epoch"] == 6 and saved["best"]["path"].endswith("e05.keras")


def test_max_mode_and_filename_from_logs(tmp_path):
    checkpoint = kr.BestCheckpoint(
        str(tmp_path / "m-{epoch}-{val_accuracy:.2f}.weights.h5"),
        monitor="val_accuracy", save_weights_only=True,
    )  # fmt: skip
    fit(small_model(), [0.5, 0.7, 0.6], checkpoint, key="val_accuracy")
    assert checkpoint.best == 0.7
    assert checkpoint.best_path.endswith("m-2-0.70.weights.h5")
    model = small_model()
    model.load_weights(checkpoint.best_path)


def test_restart_compares_against_the_true_best(tmp_path):
    path = tmp_path / "best.keras"
    fit(small_model(), [0.5, 0.2, 0.4], kr.BestCheckpoint(path, "score", "min"))
    # A new process: new callback, same folder; worse values save nothing.
    restarted = kr.BestCheckpoint(path, "score", "min")
    fit(small_model(), [0.3, 0.25], restarted, initial_epoch=3)
    assert restarted.best == 0.2 and restarted.kept[0]["epoch"] == 2
    fit(small_model(), [0.1], restarted, initial_epoch=5)
    assert restarted.best == 0.1 and restarted.kept[0]["epoch"] == 6
    assert len(list(tmp_path.glob("*.keras"))) == 1


def test_restart_from_another_working_directory(tmp_path, monkeypatch):
    # The first run names its folder relative to its working directory.
    (tmp_path / "a").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    fit(small_model(), [0.5, 0.2], kr.BestCheckpoint("ckpt/best.keras", "score", "min"))
    saved = manifest(tmp_path / "a" / "ckpt" / "checkpoints.json")
    assert saved["best"]["path"] == "best-epoch002.keras"  # relative to the folder
    # The restart runs elsewhere, and names the same folder another way.
    monkeypatch.chdir(tmp_path)
    restarted = kr.BestCheckpoint(
        tmp_path / "a" / "ckpt" / "best.keras", "score", "min"
    )
    fit(small_model(), [0.3], restarted, initial_epoch=2)
    assert restarted.best == 0.2 and restarted.kept[0]["epoch"] == 2
    assert [p.name for p in (tmp_path / "a" / "ckpt").glob("*.keras")] == [
        "best-epoch002.keras"
    ]  # the worse epoch 3 saved nothing
    best = kr.callbacks.best_checkpoint_path(tmp_path / "a" / "ckpt")
    assert best == tmp_path / "a" / "ckpt" / "best-epoch002.keras"
    keras.models.load_model(restarted.best_path)


def test_a_manifest_in_another_folder_never_loses_a_rewritten_file(
    tmp_path, monkeypatch
):
    # The manifest names the checkpoint "../ckpt/best-epoch003.keras"; the
    # rerun writes the same file again, spelled "ckpt/best-epoch003.keras".
    monkeypatch.chdir(tmp_path)

    def checkpoint():
        return kr.BestCheckpoint(
            "ckpt/best.keras", "score", "min", manifest="meta/checkpoints.json"
        )

    fit(small_model(), [0.5, 0.4, 0.3], checkpoint())
    fit(small_model(), [0.2], checkpoint(), initial_epoch=2)  # epoch 3 again
    best = kr.callbacks.best_checkpoint_path(tmp_path / "meta")
    # The second run's file gets its own name (the first's is kept until
    # the manifest stops naming it, then evicted: save_top_k=1).
    assert best is not None and best.name == "best-epoch003-run2.keras"
    assert manifest(tmp_path / "meta" / "checkpoints.json")["best"]["value"] == 0.2
    assert [p.name for p in (tmp_path / "ckpt").glob("*.keras")] == [best.name]
    keras.models.load_model(best)


def test_state_dict_restores_the_kept_checkpoints(tmp_path):
    first = kr.BestCheckpoint(tmp_path / "best.keras", "score", "min")
    fit(small_model(), [0.5, 0.2], first)
    state = first.state_dict()
    # A new callback over another manifest path, given the state: it compares
    # with the state's best, not with what (nothing) its own manifest holds.
    second = kr.BestCheckpoint(
        tmp_path / "best.keras", "score", "min", manifest=tmp_path / "other.json"
    )
    second.load_state_dict(state)
    fit(small_model(), [0.3], second, initial_epoch=2)
    assert second.best == 0.2 and second.kept[0]["epoch"] == 2


class Fragile(keras.layers.Layer):
    """A layer whose saving can be made to fail half-way through the file."""

    fail = False

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 2))

    def call(self, x):
        return x @ self.kernel

    def save_own_variables(self, store):
        super().save_own_variables(store)
        if Fragile.fail:
            raise OSError("disk full (simulated)")


def test_exception_in_the_middle_of_a_save_keeps_the_previous_best(tmp_path):
    model = keras.Sequential([keras.Input((3,)), Fragile()])
    model.compile(optimizer="sgd", loss="mse")
    checkpoint = kr.BestCheckpoint(tmp_path / "best.keras", "score", "min")
    snapshots = fit(model, [0.5], checkpoint)
    before = manifest(tmp_path / "checkpoints.json")
    Fragile.fail = True
    try:
        with pytest.raises(OSError, match="disk full"):
            fit(model, [0.1], checkpoint, initial_epoch=1)
    finally:
        Fragile.fail = False
    assert manifest(tmp_path / "checkpoints.json") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "best-epoch001.keras",
        "checkpoints.json",
    ]  # fmt: skip  (no temporary file left)
    loaded = keras.models.load_model(
        tmp_path / before["best"]["path"], custom_objects={"Fragile": Fragile}
    )
    np.testing.assert_array_equal(loaded.weights[0].numpy(), snapshots[1][0])


def test_unknown_monitor_lists_keys(tmp_path):
    checkpoint = kr.BestCheckpoint(tmp_path / "b.keras", monitor="val_acc", mode="max")
    with pytest.raises(ValueError, match=r"`val_acc`.*Available keys: loss, score"):
        fit(small_model(), [0.1], checkpoint)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"filepath": "x/best.h5"}, r"`filepath` must end in '.keras'"),
        ({"filepath": "x/b.keras", "save_weights_only": True},
         r"must end in '.weights.h5' when save_weights_only=True"),
        ({"filepath": "x/b.keras", "save_top_k": 0}, r"`save_top_k` must be >= 1"),
        ({"filepath": "x/b.keras", "mode": "best"}, r"`mode` must be one of"),
    ],
)  # fmt: skip
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        kr.BestCheckpoint(**kwargs)
