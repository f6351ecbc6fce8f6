"""The callbacks under the setups users train with, checked by the weights.

Mixed precision (Keras wraps the optimizer in a `LossScaleOptimizer`, whose
inner optimizer applies the update), a `LossScaleOptimizer` made by the user,
and gradient accumulation (one update per k batches, `iterations` counting
updates). The probe model's gradient is exactly 1 at every step, also in
float16 and bfloat16, so plain SGD moves its float32 kernel by -lr: the weights
say which learning rate each update applied.
"""

import contextlib
import json
import threading

import keras
import numpy as np
import pytest

from keras_recipes import LRFinder, find_learning_rate
from keras_recipes._internal.driver import applying_optimizer
from keras_recipes.callbacks import (
    BestCheckpoint,
    EarlyStopping,
    ExponentialScheduling,
    GradientMonitor,
    NaNGuard,
    OneCycle,
    OptimizerLogs,
    PerformanceScheduling,
    PiecewiseConstantScheduling,
    PowerScheduling,
    ResumableBackup,
    best_checkpoint,
    resumable_backup,
)
from keras_recipes.schedules import OneCycleSchedule, PowerDecay, evaluate
from tests.conftest import (
    FeedMetric,
    KernelRecorder,
    ReleaseAt,
    hold_commits,
    mean_prediction,
    ones,
    probe_model,
)

STEPS_PER_EPOCH = 8
BATCH = 4
EPOCHS = 3


@pytest.fixture(params=["mixed_float16", "mixed_bfloat16", "user_loss_scale"])
def precision(request):
    """The global dtype policy of the test; returns a function wrapping an
    optimizer as the setup does (only "user_loss_scale" wraps it itself)."""
    name = request.param
    keras.mixed_precision.set_global_policy(
        "float32" if name == "user_loss_scale" else name
    )
    yield (
        keras.optimizers.LossScaleOptimizer
        if name == "user_loss_scale"
        else (lambda optimizer: optimizer)
    )
    keras.mixed_precision.set_global_policy("float32")


def applied_rates(optimizer, callbacks, epochs=EPOCHS, accumulation=1):
    """The learning rate each update applied, read from the probe's kernel."""
    model = probe_model(optimizer)
    x, y = ones(STEPS_PER_EPOCH * BATCH)
    recorder = KernelRecorder()
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=[*callbacks, recorder],
    )
    kernels = -np.array(recorder.kernels)[:, 0]
    # Under accumulation the kernel moves at the last batch of each update.
    return np.diff(kernels, prepend=0.0)[accumulation - 1 :: accumulation], model


def sgd(learning_rate, **kwargs):
    return keras.optimizers.SGD(learning_rate, **kwargs)


SCHEDULES = {
    # name: (callback, the same schedule as a Keras schedule of the updates)
    "one-cycle": (
        lambda: OneCycle(0.5, cycle_momentum=False),
        OneCycleSchedule(0.5, total_steps=EPOCHS * STEPS_PER_EPOCH),
    ),
    "power": (
        lambda: PowerScheduling(0.2, decay_epochs=1),
        PowerDecay(0.2, STEPS_PER_EPOCH),
    ),
    "exponential": (
        lambda: ExponentialScheduling(0.2, decay_steps=5),
        keras.optimizers.schedules.ExponentialDecay(0.2, 5, 0.1),
    ),
    "piecewise": (
        lambda: PiecewiseConstantScheduling([3, 17], [0.3, 0.2, 0.1], unit="step"),
        keras.optimizers.schedules.PiecewiseConstantDecay([3, 17], [0.3, 0.2, 0.1]),
    ),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedules_reach_the_optimizer_that_applies_the_update(precision, name):
    make_callback, schedule = SCHEDULES[name]
    got, model = applied_rates(precision(sgd(0.01)), [make_callback()])
    # The same schedule compiled into the optimizer, under the same setup.
    expected, _ = applied_rates(precision(sgd(schedule)), [])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    assert np.ptp(got) > 0.05  # not the compiled constant 0.01
    # After the fit the inner optimizer has its compiled rate back.
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.01)


def test_one_cycle_cycles_the_momentum_of_the_inner_optimizer(precision):
    def run(callback):
        model = probe_model(precision(sgd(0.01, momentum=0.9)))
        x, y = ones(STEPS_PER_EPOCH * BATCH)
        history = model.fit(
            x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0,
            callbacks=[callback, OptimizerLogs()],
        )  # fmt: skip
        return float(model.layers[0].kernel.numpy()[0, 0]), history.history

    cycled, history = run(OneCycle(0.3))
    # NumPy: SGD with momentum, v = mu * v - lr * g, w += v, with g = 1.
    schedule = OneCycleSchedule(0.3, total_steps=2 * STEPS_PER_EPOCH)
    momentum = schedule.momentum_schedule(0.95, 0.85)
    velocity = weight = 0.0
    for step in range(2 * STEPS_PER_EPOCH):
        velocity = float(momentum(step)) * velocity - float(schedule(step))
        weight += velocity
    assert cycled == pytest.approx(weight, rel=1e-5)
    fixed, _ = run(OneCycle(0.3, cycle_momentum=False))
    assert abs(fixed - weight) > 100 * abs(cycled - weight)
    assert history["momentum"][-1] == pytest.approx(0.95)


def test_performance_scheduling_cuts_the_inner_rate(precision):
    callback = PerformanceScheduling("score", factor=0.5, patience=1, mode="min")
    got, model = applied_rates(
        precision(sgd(0.2)), [FeedMetric([1.0, 2.0, 3.0]), callback]
    )
    np.testing.assert_allclose(got, np.repeat([0.2, 0.2, 0.1], 8), rtol=1e-5)
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.05)


def test_lr_finder_sweeps_the_inner_optimizer(precision):
    model = probe_model(precision(sgd(0.01)))
    x, y = ones(16 * BATCH)
    recorder = KernelRecorder()
    finder = LRFinder(1e-3, 1.0, num_steps=16, divergence_threshold=None, verbose=0)
    model.fit(
        x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0,
        callbacks=[finder, recorder],
    )  # fmt: skip
    result = finder.result
    applied = np.diff(-np.array(recorder.kernels)[:, 0], prepend=0.0)
    np.testing.assert_allclose(applied, np.geomspace(1e-3, 1.0, 16), rtol=1e-4)
    np.testing.assert_allclose(result.learning_rates, applied, rtol=1e-4)
    # The model is given back as it was.
    assert float(model.layers[0].kernel.numpy()[0, 0]) == 0.0


# ------------------------------------------------- gradient accumulation


@pytest.mark.parametrize("accumulation", [2, 4])
@pytest.mark.parametrize(
    "name", ["one-cycle", "power", "exponential-epochs", "piecewise-epochs"]
)
def test_schedules_count_applied_updates(accumulation, name):
    updates_per_epoch = STEPS_PER_EPOCH // accumulation
    fit_updates = EPOCHS * updates_per_epoch
    callback, schedule = {
        "one-cycle": (
            OneCycle(0.5, cycle_momentum=False),
            OneCycleSchedule(0.5, total_steps=fit_updates),
        ),
        "power": (
            PowerScheduling(0.2, decay_epochs=1),
            PowerDecay(0.2, updates_per_epoch),
        ),
        "exponential-epochs": (
            ExponentialScheduling(0.2, decay_epochs=2),
            keras.optimizers.schedules.ExponentialDecay(
                0.2, 2 * updates_per_epoch, 0.1
            ),
        ),
        "piecewise-epochs": (
            PiecewiseConstantScheduling([1, 2], [0.3, 0.2, 0.1]),
            lambda step: [0.3, 0.2, 0.1][int(step) // updates_per_epoch],
        ),
    }[name]
    optimizer = sgd(0.01, gradient_accumulation_steps=accumulation)
    got, _ = applied_rates(optimizer, [callback], accumulation=accumulation)
    expected = [float(evaluate(schedule, step)) for step in range(fit_updates)]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    if name == "one-cycle":
        # The cycle ends at the fit's last update, annealed.
        assert got[-1] < 1e-4 * got.max()


@pytest.mark.parametrize("accumulation", [2, 4])
def test_momentum_and_plateau_cuts_count_applied_updates(accumulation):
    # 1cycle's momentum: v = mu * v - lr * g, w += v, once per update (g = 1).
    updates = EPOCHS * STEPS_PER_EPOCH // accumulation
    optimizer = sgd(0.01, momentum=0.9, gradient_accumulation_steps=accumulation)
    model = probe_model(optimizer)
    x, y = ones(STEPS_PER_EPOCH * BATCH)
    model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0,
              callbacks=[OneCycle(0.3)])  # fmt: skip
    schedule = OneCycleSchedule(0.3, total_steps=updates)
    momentum = schedule.momentum_schedule(0.95, 0.85)
    velocity = weight = 0.0
    for step in range(updates):
        velocity = float(momentum(step)) * velocity - float(schedule(step))
        weight += velocity
    assert float(model.layers[0].kernel.numpy()[0, 0]) == pytest.approx(
        weight, rel=1e-5
    )
    # A plateau cut applies from the next epoch's first update on.
    callback = PerformanceScheduling("score", factor=0.5, patience=1, mode="min")
    got, _ = applied_rates(
        sgd(0.2, gradient_accumulation_steps=accumulation),
        [FeedMetric([1.0, 2.0, 3.0]), callback],
        accumulation=accumulation,
    )
    per_epoch = STEPS_PER_EPOCH // accumulation
    np.testing.assert_allclose(got, np.repeat([0.2, 0.2, 0.1], per_epoch), rtol=1e-5)


def test_epochs_without_whole_updates_are_refused():
    model = probe_model(sgd(0.01, gradient_accumulation_steps=3))
    x, y = ones(STEPS_PER_EPOCH * BATCH)
    match = "gradient_accumulation_steps=3.*multiple of 3"
    with pytest.raises(ValueError, match=match):
        model.fit(x, y, batch_size=BATCH, verbose=0, callbacks=[OneCycle(0.1)])


def test_lr_finder_refuses_gradient_accumulation():
    model = probe_model(sgd(0.01, gradient_accumulation_steps=2))
    x, y = ones(32)
    with pytest.raises(ValueError, match="gradient_accumulation_steps=2.*2x larger"):
        find_learning_rate(model, x, y, batch_size=4, num_steps=10)
    assert float(model.layers[0].kernel.numpy()[0, 0]) == 0.0


def tiny_loss(y_true, y_pred):
    """A loss whose float16 gradient (1e-7) flushes to a wrong subnormal
    unless the loss is scaled as the train step does."""
    del y_true
    return 1e-4 * keras.ops.mean(y_pred)


def test_gradient_monitor_scales_the_loss_under_mixed_float16():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = probe_model(sgd(0.01))
        model.compile(optimizer=sgd(0.01), loss=tiny_loss)
        x = np.full((64, 1), 1e-3, "float32")
        monitor = GradientMonitor((x, np.zeros((64, 1), "float32")), every=1)
        model.fit(x, np.zeros((64, 1)), batch_size=64, epochs=1, verbose=0,
                  callbacks=[monitor])  # fmt: skip
    finally:
        keras.mixed_precision.set_global_policy("float32")
    # d loss / d kernel = 1e-4 * mean(x) = 1e-7 (float16's smallest step is
    # 6e-8: unscaled, it would read 1.2e-7 or 0).
    assert monitor.history[0]["global_norm"] == pytest.approx(1e-7, rel=1e-2)


@pytest.mark.skipif(
    not hasattr(keras.optimizers, "MultiOptimizer"),
    reason=f"Keras {keras.version()} has no keras.optimizers.MultiOptimizer",
)
@pytest.mark.parametrize("who", ["OneCycle", "the finder"])
def test_a_multi_optimizer_is_refused_at_train_begin(who):
    optimizer = keras.optimizers.MultiOptimizer(
        keras.optimizers.OptimizerMap(sgd(0.01))
    )
    model = probe_model(optimizer)
    x, y = ones(32)
    with pytest.raises(ValueError, match="Cannot drive the learning rate of a Multi"):
        if who == "OneCycle":
            model.fit(x, y, batch_size=4, verbose=0, callbacks=[OneCycle(0.1)])
        else:
            find_learning_rate(model, x, y, batch_size=4, num_steps=10)


def test_nan_guard_restores_finite_weights_under_mixed_float16():
    # SGD at 1e3 overflows float16 in a few steps: the LossScaleOptimizer
    # skips the steps with non-finite gradients, the loss still turns NaN.
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        rng = np.random.default_rng(0)
        x = rng.normal(size=(64, 4)).astype("float32")
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        model.compile(optimizer=sgd(1e3), loss="mse")
        guard = NaNGuard(verbose=0)
        y = x.sum(axis=1, keepdims=True)
        model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0,
                  callbacks=[guard])  # fmt: skip
        # Keras's TerminateOnNaN leaves weights whose float16 loss is NaN.
        loss = model.evaluate(x, y, verbose=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert guard.bad_step is not None and guard.restored_step < guard.bad_step
    assert np.isfinite(loss)
    variables = model.weights + model.optimizer.variables  # wrapper's and inner's
    assert all(np.isfinite(keras.ops.convert_to_numpy(v)).all() for v in variables)


def test_a_multi_output_model_follows_the_schedule():
    # Two bias-free heads, each with the probe's loss (gradient 1 per
    # kernel): both kernels move by the rate each update applied.
    inputs = keras.Input((1,))
    heads = {
        name: keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")(inputs)
        for name in ("accuracy_head", "auc")
    }
    model = keras.Model(inputs, heads)
    model.compile(
        optimizer=sgd(0.01),
        loss={name: mean_prediction for name in heads},
    )
    x, y = ones(STEPS_PER_EPOCH * BATCH)
    kernels = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            weights = self.model.trainable_weights  # self.model: syncs JAX state
            kernels.append([float(v.numpy()[0, 0]) for v in weights])

    stopper = EarlyStopping("val_auc_loss", patience=1)
    model.fit(
        x, {name: y for name in heads}, batch_size=BATCH, epochs=EPOCHS,
        shuffle=False, verbose=0, validation_data=(x, {name: y for name in heads}),
        callbacks=[OneCycle(0.5, cycle_momentum=False), Record(), stopper],
    )  # fmt: skip
    applied = np.diff(-np.array(kernels), axis=0, prepend=0.0)
    schedule = OneCycleSchedule(0.5, total_steps=EPOCHS * STEPS_PER_EPOCH)
    expected = [float(evaluate(schedule, step)) for step in range(len(applied))]
    for head in range(2):
        np.testing.assert_allclose(applied[:, head], expected, rtol=1e-5, atol=1e-6)
    assert stopper._tracker.mode == "min"  # a loss, whatever the output's name


def two_heads(optimizer):
    inputs = keras.Input((1,))
    heads = {
        name: keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")(inputs)
        for name in ("left", "right")
    }
    model = keras.Model(inputs, heads)
    model.compile(optimizer=optimizer, loss={name: mean_prediction for name in heads})
    return model


# name: (global dtype policy, a model compiled with this Adam)
RESTORE_SETUPS = {
    "mixed_float16": ("mixed_float16", probe_model),
    "mixed_bfloat16": ("mixed_bfloat16", probe_model),
    "user_loss_scale": (
        "float32",
        lambda adam: probe_model(keras.optimizers.LossScaleOptimizer(adam)),
    ),
    "accumulation": (
        "float32",
        lambda adam: probe_model(
            keras.optimizers.Adam(0.1, gradient_accumulation_steps=2)
        ),
    ),
    "steps_per_execution": (
        "float32",
        lambda adam: probe_model(adam, steps_per_execution=2),
    ),
    "multi_output": ("float32", two_heads),
}


# Keras refuses steps_per_execution > 1 on PyTorch itself.
if keras.backend.backend() == "torch":
    del RESTORE_SETUPS["steps_per_execution"]


@contextlib.contextmanager
def setup_model(setup):
    """The model of `setup` (Adam at 0.1), under its dtype policy."""
    policy, build = RESTORE_SETUPS[setup]
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield build(keras.optimizers.Adam(0.1))
    finally:
        keras.mixed_precision.set_global_policy("float32")


class Snapshots(keras.callbacks.Callback):
    """`snapshots[k]`: the weights and every optimizer variable at the end of
    epoch k (1-based)."""

    def __init__(self, snapshots):
        super().__init__()
        self.snapshots = snapshots

    def on_epoch_end(self, epoch, logs=None):
        variables = self.model.weights + self.model.optimizer.variables
        self.snapshots[epoch + 1] = [
            keras.ops.convert_to_numpy(v).copy() for v in variables
        ]


@pytest.mark.parametrize("setup", sorted(RESTORE_SETUPS))
def test_early_stopping_restores_the_best_epochs_optimizer_state(setup):
    # Best epoch 2, stopped at epoch 3: the weights and every optimizer
    # variable (a LossScaleOptimizer's and its inner's, the accumulators,
    # the iterations) are those of the end of epoch 2.
    with setup_model(setup) as model:
        snapshots = {}

        stopper = EarlyStopping("score", mode="min", patience=1)
        x, y = ones(STEPS_PER_EPOCH * BATCH)
        targets = y if setup != "multi_output" else {"left": y, "right": y}
        model.fit(
            x, targets, batch_size=BATCH, epochs=5, shuffle=False, verbose=0,
            callbacks=[FeedMetric([0.5, 0.3, 0.4, 0.2, 0.1]), Snapshots(snapshots),
                       stopper],
        )  # fmt: skip
    assert stopper.stopped_epoch == 3 and stopper.best_epoch == 2
    restored = model.weights + model.optimizer.variables
    assert len(restored) == len(snapshots[2])
    for variable, saved in zip(restored, snapshots[2], strict=True):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(variable), saved, err_msg=variable.path
        )
    # And not those of epoch 3 (the test would pass on an unrestored model).
    assert not all(
        np.array_equal(keras.ops.convert_to_numpy(v), s)
        for v, s in zip(restored, snapshots[3], strict=True)
    )


@pytest.mark.parametrize("setup", sorted(RESTORE_SETUPS))
def test_the_savers_keep_the_state_of_their_epoch(setup, tmp_path, monkeypatch):
    # Written in the background, from copies, once epoch 3 has trained: the
    # best checkpoints (epoch 2) and the last backup (made at epoch 3's
    # start) hold the weights and every optimizer variable of the end of
    # epoch 2, read back from the files.
    held = threading.Event()  # Epoch 2's files wait for the fit's end.
    hold_commits(monkeypatch, (best_checkpoint, resumable_backup), held,
                 names=("epoch002", "epoch0002"))  # fmt: skip
    with setup_model(setup) as model:
        snapshots = {}

        best = BestCheckpoint(
            tmp_path / "best.weights.h5", "score", "min", save_weights_only=True
        )
        backup = ResumableBackup(tmp_path / "backup", delete_on_completion=False)
        whole = BestCheckpoint(tmp_path / "whole" / "best.keras", "score", "min")
        x, y = ones(STEPS_PER_EPOCH * BATCH)
        targets = y if setup != "multi_output" else {"left": y, "right": y}
        model.fit(
            x, targets, batch_size=BATCH, epochs=3, shuffle=False, verbose=0,
            callbacks=[FeedMetric([0.5, 0.3, 0.4]), Snapshots(snapshots),
                       ReleaseAt(held), best, backup, whole],
        )  # fmt: skip
        state = json.loads((tmp_path / "backup" / "state.json").read_text())
        assert state["epoch"] == 2 and best.kept[0]["epoch"] == 2
        variables = model.weights + model.optimizer.variables
        assert not all(
            np.array_equal(s2, s3)
            for s2, s3 in zip(snapshots[2], snapshots[3], strict=True)
        )
        for path in (best.best_path, tmp_path / "backup" / state["weights"]):
            # From the end of epoch 3 each time: the load must move them.
            for variable, value in zip(variables, snapshots[3], strict=True):
                variable.assign(value)
            model.load_weights(path)
            for variable, saved in zip(variables, snapshots[2], strict=True):
                np.testing.assert_array_equal(
                    keras.ops.convert_to_numpy(variable), saved, err_msg=variable.path
                )
        # The whole model (.keras: its config, its dtype policy, its optimizer).
        loaded = keras.models.load_model(whole.best_path)
        loaded_variables = loaded.weights + loaded.optimizer.variables
        for variable, saved in zip(loaded_variables, snapshots[2], strict=True):
            np.testing.assert_array_equal(
                keras.ops.convert_to_numpy(variable), saved, err_msg=variable.path
            )


class Ones(keras.utils.PyDataset):
    """Batches of ones (two heads: a target each), NaN inputs once poisoned."""

    def __init__(self, heads=None):
        super().__init__()
        self.poisoned, self.heads = False, heads

    def __len__(self):
        return STEPS_PER_EPOCH

    def __getitem__(self, index):
        x, y = ones(BATCH)
        x = x * np.nan if self.poisoned else x
        return x, (y if self.heads is None else {h: y for h in self.heads})


@pytest.mark.parametrize("setup", sorted(RESTORE_SETUPS))
def test_nan_guard_restores_a_finite_state_it_saw(setup):
    # NaN inputs from epoch 3 on: NaNGuard (defaults, a copy at every epoch
    # end) stops, and the model's weights and optimizer variables are one of
    # the epoch-end states seen before, all finite; the next fit is finite.
    with setup_model(setup) as model:
        data = Ones(("left", "right") if setup == "multi_output" else None)
        states = {}

        class Watch(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                data.poisoned = epoch >= 2

            def on_epoch_end(self, epoch, logs=None):
                optimizer = self.model.optimizer
                # The inner optimizer's count (a LossScaleOptimizer's own
                # stays at 0 on Keras 3.8).
                iterations = applying_optimizer(optimizer).iterations
                step = int(keras.ops.convert_to_numpy(iterations))
                states[step] = [
                    keras.ops.convert_to_numpy(v).copy()
                    for v in self.model.weights + optimizer.variables
                ]

        guard = NaNGuard(copy_budget=None, verbose=0)
        model.fit(data, epochs=5, shuffle=False, verbose=0, callbacks=[Watch(), guard])
        data.poisoned = False
        restored = [
            keras.ops.convert_to_numpy(v)
            for v in model.weights + model.optimizer.variables
        ]
        history = model.fit(data, epochs=1, verbose=0).history
    assert guard.bad_epoch == 3 and guard.restored_step in states
    for value, saved in zip(restored, states[guard.restored_step], strict=True):
        np.testing.assert_array_equal(value, saved)
    assert all(np.all(np.isfinite(value)) for value in restored)
    assert all(np.isfinite(value) for value in history["loss"])


class FailAt(keras.utils.PyDataset):
    """Batches of ones for 16 steps (a target per head); batch `fail_at` raises."""

    def __init__(self, heads, fail_at):
        super().__init__()
        self.heads, self.fail_at = heads, fail_at

    def __len__(self):
        return 16

    def __getitem__(self, index):
        if index == self.fail_at:
            raise OSError("a bad batch")
        x, y = ones(BATCH)
        return x, (y if self.heads is None else {h: y for h in self.heads})


class KernelSums(keras.callbacks.Callback):
    """The sum of the kernels after each batch hook (the probe's loss of the
    next batch: the mean prediction, summed over the heads)."""

    def on_train_begin(self, logs=None):
        self.sums = []

    def on_train_batch_end(self, batch, logs=None):
        weights = self.model.trainable_weights
        self.sums.append(sum(float(np.ravel(v.numpy())[0]) for v in weights))


@pytest.mark.parametrize("setup", sorted(set(RESTORE_SETUPS) - {"accumulation"}))
def test_the_finder_records_each_batch_and_undoes_an_interrupted_sweep(setup):
    # (Accumulation is refused at on_train_begin: see above.)
    heads = ("left", "right") if setup == "multi_output" else None
    with setup_model(setup) as model:
        sums = KernelSums()
        finder = LRFinder(1e-3, 0.1, num_steps=16, divergence_threshold=None, verbose=0)
        model.fit(FailAt(heads, fail_at=None), epochs=2, shuffle=False, verbose=0,
                  callbacks=[finder, sums])  # fmt: skip
        before = [keras.ops.convert_to_numpy(v).copy() for v in model.variables]
        with pytest.raises(Exception, match="a bad batch"):
            find_learning_rate(
                model, FailAt(heads, fail_at=5), num_steps=16,
                divergence_threshold=None, verbose=0,
            )  # fmt: skip
        after = [keras.ops.convert_to_numpy(v) for v in model.variables]
    # Each batch's loss is the kernels' sum before its step (read from the
    # weights), not the running mean; float16 / bfloat16 compute the loss.
    spe = 2 if setup == "steps_per_execution" else 1
    kernels_before = np.concatenate([[0.0], sums.sums[:-1]])[::spe]
    tolerance = 1e-5 if setup in ("multi_output", "user_loss_scale") else 2e-2
    if spe == 1:
        np.testing.assert_allclose(
            finder.result.losses, kernels_before, rtol=tolerance, atol=1e-4
        )
    assert finder.result.steps == 16
    # The interrupted sweep: every variable as before it, at once.
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
