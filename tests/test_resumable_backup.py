"""ResumableBackup in one process: a fit stopped by an exception, then rerun."""

import json

import keras
import numpy as np
import pytest

import keras_recipes as kr
from keras_recipes._internal.atomic import StateFileError
from keras_recipes._internal.background import wait_for_all
from tests.conftest import Crash


class FeedMetric(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        logs["score"] = [1.0, 2.0, 2.0, 2.0, 2.0, 2.0][epoch]


def model_and_data(learning_rate=0.1):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    return model, x, x.sum(axis=1, keepdims=True)


def run(backup_dir, crash_at=None, learning_rate=0.1):
    model, x, y = model_and_data(learning_rate)
    plateau = kr.PerformanceScheduling("score", factor=0.5, patience=1, mode="min")
    backup = kr.ResumableBackup(backup_dir, callbacks={"plateau": plateau})
    # The plateau callback listed after the backup: its cut must still be saved.
    callbacks = [FeedMetric(), backup, plateau]
    if crash_at is not None:
        callbacks.append(Crash(crash_at))
    try:
        history = model.fit(
            x, y, batch_size=8, epochs=4, shuffle=False, verbose=0, callbacks=callbacks
        )
    finally:
        # The folder as the process leaves it: after a fit that raised, the
        # last backup may still be committing in the background.
        wait_for_all()
    return model, history, plateau, backup


def test_rerun_continues_with_callback_state_whatever_the_order(tmp_path):
    reference, ref_history, ref_plateau, _ = run(tmp_path / "ref")
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(tmp_path / "b", crash_at=3)
    state = json.loads((tmp_path / "b" / "state.json").read_text())
    assert state["epoch"] == 3
    assert state["callbacks"]["plateau"]["state"]["scale"] == pytest.approx(0.25)

    model, history, plateau, backup = run(tmp_path / "b")
    assert backup.restored_epoch == 3
    assert len(history.history["loss"]) == 1  # only epoch 4 ran
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(
        float(reference.optimizer.learning_rate.numpy())
    )
    assert plateau.state_dict() == ref_plateau.state_dict()
    for a, b in zip(model.weights, reference.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
    assert not (tmp_path / "b" / "state.json").exists()  # deleted on completion


def test_reductions_of_a_schedule_survive_a_restart(tmp_path):
    schedule = kr.PowerDecay(0.1, decay_steps=4)
    reference, _, _, _ = run(tmp_path / "ref", learning_rate=schedule)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(tmp_path / "b", crash_at=3, learning_rate=schedule)
    model, _, plateau, _ = run(tmp_path / "b", learning_rate=schedule)
    assert isinstance(model.optimizer._learning_rate, kr.ScaledSchedule)
    assert float(model.optimizer.learning_rate) == pytest.approx(
        float(reference.optimizer.learning_rate)
    )
    for a, b in zip(model.weights, reference.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


def test_changed_callbacks_are_refused(tmp_path):
    with pytest.raises(RuntimeError):
        run(tmp_path, crash_at=2)
    model, x, y = model_and_data()
    stopper = kr.EarlyStopping("loss")
    with pytest.raises(ValueError, match=r"holds the state of callbacks"):
        model.fit(
            x,
            y,
            epochs=3,
            verbose=0,
            callbacks=[kr.ResumableBackup(tmp_path, callbacks={"stopper": stopper})],
        )


def test_callbacks_without_state_are_refused(tmp_path):
    with pytest.raises(
        TypeError,
        match=r"`callbacks\['cycle'\]` needs `state_dict\(\)`.*Received: OneCycle",
    ):
        kr.ResumableBackup(tmp_path, callbacks={"cycle": kr.OneCycle(0.1)})


def test_callbacks_are_named_explicitly(tmp_path):
    # A list would be matched by position (or class name): refused.
    with pytest.raises(TypeError, match=r"`callbacks` must map a name to each"):
        kr.ResumableBackup(tmp_path, callbacks=[kr.EarlyStopping()])


def corrupt_state(folder, change):
    wait_for_all()  # The backup as the crashed run committed it.
    path = folder / "state.json"
    state = json.loads(path.read_text())
    change(state, folder)
    path.write_text(json.dumps(state))


def flip_weights(state, folder):
    weights = folder / state["weights"]
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda s, f: s.update(epoch=-3), "`epoch` must be an integer >= 1"),
        (lambda s, f: s.update(epoch=999), "`epoch` is 999, but this fit has 4"),
        (lambda s, f: s.update(epoch="2"), "`epoch` must be an integer"),
        (lambda s, f: s.update(weights="gone.h5"), "`weights` names no file"),
        (lambda s, f: s.update(weights=None), "`weights` names no file"),
        (lambda s, f: s.pop("callbacks"), "`callbacks` must map"),
        (lambda s, f: s.update(callbacks={"plateau": 1}), "`callbacks` must map"),
        (flip_weights, "does not match the checksum"),
        (lambda s, f: s.update(version=99), r"`version` is 99; this ResumableBack"),
        (lambda s, f: s.pop("version"), r"`version` is None; this ResumableBack"),
    ],
)
def test_a_corrupted_backup_is_refused_naming_the_file(tmp_path, change, match):
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(tmp_path, crash_at=3)
    corrupt_state(tmp_path, change)
    with pytest.raises(StateFileError, match=match) as error:
        run(tmp_path)
    assert str(tmp_path) in str(error.value)


@pytest.mark.parametrize("text", ['{"epoch": ', "[1, 2]", "\x00\xff"])
def test_an_unreadable_state_file_names_the_file_and_the_fix(tmp_path, text):
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(tmp_path, crash_at=3)
    (tmp_path / "state.json").write_text(text, errors="surrogateescape")
    with pytest.raises(StateFileError, match=r"state.json.*Remove the folder"):
        run(tmp_path)


def dropout_model(kind):
    if kind == "builder":  # Its Dropout layers get seeds of their own.
        return kr.build_mlp(
            (6,), 1, hidden_layers=1, units=16, dropout=0.5, output_activation=None
        )
    return keras.Sequential(
        # Seeded: on PyTorch an unseeded Dropout draws from torch's global
        # generator, which no backup holds.
        [keras.Input((6,)), keras.layers.Dense(16),
         keras.layers.Dropout(0.5, seed=3), keras.layers.Dense(1)]
    )  # fmt: skip


def dropout_fit(backup_dir, crash_at=None, seed=0, kind="layer"):
    keras.utils.set_random_seed(seed)
    model = dropout_model(kind)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 6)).astype("float32")
    batches = kr.ShuffledBatches(x, x.sum(axis=1), batch_size=8, seed=1)
    callbacks = [batches.follow_epochs(), kr.ResumableBackup(backup_dir)]
    if crash_at is not None:
        callbacks.append(Crash(crash_at))
    try:
        model.fit(batches, epochs=3, shuffle=False, verbose=0, callbacks=callbacks)
    except RuntimeError:
        wait_for_all()
    return [w.numpy() for w in model.weights]


@pytest.mark.parametrize("kind", ["layer", "builder"])
def test_a_resumed_fit_drops_the_same_units_and_reads_the_same_batches(tmp_path, kind):
    # Dropout's seed state is not in the weights file; the backup keeps it,
    # and ShuffledBatches draws epoch k's order from (seed, k) alone.
    whole = dropout_fit(tmp_path / "whole", kind=kind)
    dropout_fit(tmp_path / "resumed", crash_at=2, kind=kind)
    # Another process would start from other RNG states: seed 5 here.
    resumed = dropout_fit(tmp_path / "resumed", seed=5, kind=kind)
    for a, b in zip(resumed, whole, strict=True):
        np.testing.assert_array_equal(a, b)


def test_shuffled_batches_draw_a_new_order_each_epoch_from_the_seed():
    x = np.arange(20.0)[:, None]
    batches = kr.ShuffledBatches(x, x[:, 0], batch_size=6, seed=3)
    assert len(batches) == 4 and len(batches[3][0]) == 2
    orders = [batches.order(epoch) for epoch in range(3)]
    assert all(sorted(o) == list(range(20)) for o in orders)
    assert not np.array_equal(orders[0], orders[1])
    np.testing.assert_array_equal(orders[1], batches.order(1))  # Same (seed, k).
    batches.epoch = 1
    np.testing.assert_array_equal(batches[0][0][:, 0], orders[1][:6])
    with pytest.raises(
        ValueError, match=r"same number of samples .*len\(x\)=20, len\(y\)=3"
    ):
        kr.ShuffledBatches(x, x[:3], batch_size=6)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda s, f: s.update(random="gone.npz"), r"`random` names no file"),
        (lambda s, f: (f / s["random"]).write_bytes(b"PK\x03\x04 torn"),
         r"random-epoch0002\.npz cannot be read"),
    ],
)  # fmt: skip
def test_a_corrupted_random_state_is_refused_naming_the_file(tmp_path, change, match):
    dropout_fit(tmp_path, crash_at=2)
    corrupt_state(tmp_path, change)
    with pytest.raises(StateFileError, match=match + r".*Remove the folder"):
        dropout_fit(tmp_path)


def test_a_named_best_checkpoints_bad_state_names_the_backup(tmp_path):
    model, x, y = model_and_data()
    best = kr.BestCheckpoint(tmp_path / "ckpt" / "m.keras", "loss")
    backup = kr.ResumableBackup(tmp_path / "backup", callbacks={"best": best})
    with pytest.raises(RuntimeError, match="simulated crash"):
        model.fit(x, y, epochs=4, verbose=0, callbacks=[best, backup, Crash(2)])
    corrupt_state(
        tmp_path / "backup",
        lambda s, f: s["callbacks"]["best"]["state"].update(mode="best"),
    )
    model, x, y = model_and_data()
    best = kr.BestCheckpoint(tmp_path / "ckpt" / "m.keras", "loss")
    backup = kr.ResumableBackup(tmp_path / "backup", callbacks={"best": best})
    with pytest.raises(StateFileError, match=r"backup/state\.json cannot be trusted: "
                       r"the state of 'best':.*`mode` must be"):  # fmt: skip
        model.fit(x, y, epochs=4, verbose=0, callbacks=[best, backup])
