"""The chief's watchdog on a scripted oracle and clock (no processes).

The loopback test (tests/test_tuning_distributed.py) kills a real worker;
these check the timeout rule and what the oracle is told, step by step.
"""

from types import SimpleNamespace

import pytest

from keras_recipes.tuning.distributed import (
    BEFORE_ANY_SECONDS,
    TrialWatchdog,
    check_trial_timeout,
)

pytestmark = pytest.mark.backend_independent


class Oracle:
    """What the watchdog reads and calls of KerasTuner's oracle."""

    def __init__(self):
        self.trials, self.ongoing_trials, self.tuner_ids = {}, {}, set()
        self.ended = []

    def start(self, tuner_id, trial_id):
        trial = SimpleNamespace(trial_id=trial_id, status="RUNNING", message=None)
        self.trials[trial_id] = trial
        self.ongoing_trials[tuner_id] = trial
        self.tuner_ids.add(tuner_id)

    def finish(self, tuner_id):
        self.ongoing_trials.pop(tuner_id).status = "COMPLETED"

    def end_trial(self, trial):  # KerasTuner pops the ongoing trial.
        self.ended.append((trial.trial_id, trial.status, trial.message))
        for tuner_id, ongoing in list(self.ongoing_trials.items()):
            if ongoing is trial:
                del self.ongoing_trials[tuner_id]


class Clock:
    now = 1000.0

    def __call__(self):
        return self.now


def test_a_silent_trial_is_failed_after_the_timeout_and_its_worker_dropped():
    oracle, clock, beats = Oracle(), Clock(), {}
    watchdog = TrialWatchdog(oracle, 10, heartbeat=beats.get, clock=clock)
    oracle.start("tuner0", "0")
    oracle.start("tuner1", "1")
    watchdog.check()  # First seen at 1000.
    clock.now, beats["0"] = 1009.0, 1008.0
    watchdog.check()
    clock.now = 1010.5  # tuner1: 10.5 s of silence; tuner0 beat 2.5 s ago.
    watchdog.check()
    assert oracle.ended == [
        ("1", "FAILED", "worker tuner1 gave no sign of life for 10 s "
         "(trial_timeout: 10 s); the trial is marked failed"),
    ]  # fmt: skip
    assert oracle.tuner_ids == {"tuner0"} and list(oracle.ongoing_trials) == ["tuner0"]
    assert not watchdog.lost_every_worker()  # tuner0 still runs.
    oracle.finish("tuner0")
    oracle.tuner_ids.discard("tuner0")  # Told to stop.
    assert watchdog.lost_every_worker()


def test_auto_timeout_is_three_medians_of_the_finished_trials():
    oracle, clock = Oracle(), Clock()
    watchdog = TrialWatchdog(oracle, "auto", clock=clock)
    assert watchdog.timeout() == BEFORE_ANY_SECONDS
    for index, seconds in enumerate([40.0, 50.0, 400.0]):
        oracle.start("tuner0", str(index))
        watchdog.check()
        clock.now += seconds
        oracle.finish("tuner0")
        watchdog.check()
    assert watchdog.timeout() == 150.0  # 3 x median(40, 50, 400)
    oracle.start("tuner0", "3")
    watchdog.check()
    clock.now += 149.0
    watchdog.check()
    assert oracle.ended == []
    clock.now += 2.0
    watchdog.check()
    assert [status for _, status, _ in oracle.ended] == ["FAILED"]


def test_auto_timeout_has_a_floor():
    oracle, clock = Oracle(), Clock()
    watchdog = TrialWatchdog(oracle, clock=clock)
    oracle.start("tuner0", "0")
    watchdog.check()
    clock.now += 1.0
    oracle.finish("tuner0")
    watchdog.check()
    assert watchdog.timeout() == 60.0


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), True, "5", None])
def test_trial_timeout_is_auto_or_positive_seconds(value):
    with pytest.raises(ValueError, match=r"`trial_timeout` must be 'auto' or a "
                       r"number of seconds > 0. Received: trial_timeout="):  # fmt: skip
        check_trial_timeout(value)
    assert check_trial_timeout(2) == 2.0 and check_trial_timeout("auto") == "auto"
