"""Scheduling callbacks with `log_dir`: every update's rate in TensorBoard."""

import keras
import numpy as np
import pytest

import keras_recipes as kr
from tests.conftest import KernelRecorder, mean_prediction, ones, probe_model
from tests.tensorboard_events import read_run

STEPS = 4  # per epoch: 16 samples, batch 4


def test_the_curve_is_the_rate_each_update_applied(tmp_path):
    # The probe's kernel moves by -lr at every update: its steps are the
    # rates the optimizer applied, read from the weights, not from logs.
    model = probe_model(keras.optimizers.SGD(0.01))
    recorder = KernelRecorder()
    scheduler = kr.OneCycle(0.5, cycle_momentum=False, log_dir=tmp_path)
    x, y = ones(16)
    model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[scheduler, recorder])
    kernels = np.concatenate([[0.0], np.array(recorder.kernels)[:, 0]])
    applied = -np.diff(kernels)
    curve = read_run(tmp_path)["schedule/learning_rate"]
    assert [step for step, _ in curve] == list(range(3 * STEPS))
    # (The kernel is float32 near 2.7: its differences are exact to ~3e-7.)
    np.testing.assert_allclose(
        [value for _, value in curve], applied, rtol=1e-5, atol=5e-7
    )
    assert "schedule/momentum" not in read_run(tmp_path)  # not cycled


def test_momentum_and_a_resumed_fit_are_written_at_their_positions(tmp_path):
    model = probe_model(keras.optimizers.SGD(0.01, momentum=0.9))
    scheduler = kr.OneCycle(max_learning_rate=0.5, log_dir=tmp_path)
    x, y = ones(16)
    model.fit(x, y, batch_size=4, epochs=3, initial_epoch=1, verbose=0,
              callbacks=[scheduler])  # fmt: skip
    curves = read_run(tmp_path)
    expected = scheduler.schedule_for(3, STEPS, 0.01)
    steps = np.arange(STEPS, 3 * STEPS)  # epochs 2 and 3 of the schedule
    for tag, schedule in [("schedule/learning_rate", expected.learning_rate),
                          ("schedule/momentum", expected.momentum)]:  # fmt: skip
        assert [step for step, _ in curves[tag]] == list(steps)
        np.testing.assert_allclose(
            [value for _, value in curves[tag]],
            kr.schedules.evaluate(schedule, steps),
            rtol=1e-6,
        )


def test_log_dir_must_be_a_path():
    with pytest.raises(
        TypeError, match=r"`log_dir` must be a path.*Received: log_dir=3"
    ):
        kr.ExponentialScheduling(0.1, decay_epochs=1, log_dir=3)


SETUPS = ["mixed_float16", "mixed_bfloat16", "accumulation", "two_outputs"]
if keras.backend.backend() != "torch":  # Keras refuses it on torch at compile.
    SETUPS.append("steps_per_execution")


@pytest.mark.parametrize("setup", SETUPS)
def test_the_curve_is_the_rate_applied_under_each_setup(tmp_path, setup):
    # The probe's gradient is 1 per kernel in every setup: the kernels' steps
    # are the rates the inner optimizer applied. The curve must list one
    # point per applied update, at its position, with that rate.
    accumulation = 2 if setup == "accumulation" else 1
    execution = 4 if setup == "steps_per_execution" else 1
    if setup.startswith("mixed"):
        keras.mixed_precision.set_global_policy(setup)
    try:
        optimizer = keras.optimizers.SGD(
            0.01,
            momentum=0.9,
            gradient_accumulation_steps=accumulation if accumulation > 1 else None,
        )
        if setup == "two_outputs":
            inputs = keras.Input((1,))
            heads = {
                name: keras.layers.Dense(
                    1, use_bias=False, kernel_initializer="zeros", dtype="float32"
                )(inputs)
                for name in ("a", "b")
            }
            model = keras.Model(inputs, heads)
            model.compile(optimizer, loss={name: mean_prediction for name in heads})
        else:
            model = probe_model(optimizer, steps_per_execution=execution)
        # A train function before the first scheduled fit (as a model fit
        # before has): the scheduled step is then kept, and the second fit
        # below runs it again with its tables refilled (TensorFlow, JAX).
        model.make_train_function()
        kernels = []

        class Record(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                weights = self.model.trainable_weights  # syncs the JAX state
                kernels.append([float(np.ravel(w.numpy())[0]) for w in weights])

        scheduler = kr.OneCycle(0.5, log_dir=tmp_path)
        x, y = ones(16)
        targets = {"a": y, "b": y} if setup == "two_outputs" else y
        model.fit(x, targets, batch_size=2, epochs=3, shuffle=False, verbose=0,
                  callbacks=[scheduler, Record()])  # fmt: skip
        # A second scheduled fit of the same model, on the step kept from the
        # first: the weights must follow the new schedule.
        first_fit = len(kernels)
        decay = kr.ExponentialScheduling(0.2, decay_epochs=1)
        model.fit(x, targets, batch_size=2, epochs=2, shuffle=False, verbose=0,
                  callbacks=[decay, Record()])  # fmt: skip
    finally:
        keras.mixed_precision.set_global_policy("float32")
    updates = 3 * 8 // accumulation
    curves = read_run(tmp_path)
    expected = scheduler.schedule_for(3, 8 // accumulation, 0.01)
    for tag, schedule in [("schedule/learning_rate", expected.learning_rate),
                          ("schedule/momentum", expected.momentum)]:  # fmt: skip
        assert [step for step, _ in curves[tag]] == list(range(updates))
        np.testing.assert_allclose(
            [value for _, value in curves[tag]],
            kr.schedules.evaluate(schedule, np.arange(updates)),
            rtol=1e-6,
        )
    # The weights: with momentum the kernel follows the heavy-ball sum of
    # the curve's rates and momenta (gradient 1), read at each batch hook.
    rates = np.array([value for _, value in curves["schedule/learning_rate"]])
    momenta = np.array([value for _, value in curves["schedule/momentum"]])
    second = decay.schedule_for(2, 8 // accumulation, 0.01).learning_rate
    rates = np.concatenate(
        [rates, kr.schedules.evaluate(second, np.arange(2 * 8 // accumulation))]
    )
    momenta = np.concatenate([momenta, np.full(2 * 8 // accumulation, 0.9)])
    velocity, kernel, simulated = 0.0, 0.0, []
    for rate, momentum in zip(rates, momenta, strict=True):
        velocity = momentum * velocity - rate
        kernel += velocity
        simulated.append(kernel)
    after_updates = np.concatenate([[0.0], simulated])  # after 0, 1, ... updates
    hooks = np.array(kernels)  # one row per batch hook
    # Batches seen at each hook, counted over both fits.
    batches_seen = execution * np.arange(1, len(hooks) + 1)
    expected_kernel = after_updates[batches_seen // accumulation]
    assert len(hooks) == first_fit + 2 * 8 // execution
    for column in range(hooks.shape[1]):
        np.testing.assert_allclose(
            hooks[:, column], expected_kernel, rtol=1e-4, atol=1e-5
        )
