"""Scheduling callbacks with `log_dir`: every update's rate in TensorBoard."""

import keras
import numpy as np
import pytest

import keras_recipes as kr
from tests.conftest import KernelRecorder, ones, probe_model
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
