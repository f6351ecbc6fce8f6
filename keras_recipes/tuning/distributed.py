"""Which part a process plays in a distributed search, from one place.

KerasTuner's chief/worker mode is set by three environment variables:
`KERASTUNER_TUNER_ID` (`chief`, or `tuner0`, `tuner1`, ... for workers),
`KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT` (the chief's address).
`distributed_role` reads them (or arguments that stand for them) with
KerasTuner's own rule, and says what is missing; `search` and
`keras-recipes tune` both call it.
"""

import contextlib
import math
import os
import statistics
import time

from keras_tuner.engine.trial import TrialStatus

from keras_recipes._internal.names import KERASTUNER_ENVIRONMENT

# Argument name -> the environment variable KerasTuner reads.
ENVIRONMENT = KERASTUNER_ENVIRONMENT


def distributed_role(tuner_id=None, oracle_ip=None, oracle_port=None, labels=None):
    """`"single"`, `"chief"` or `"worker"`.

    Each argument left `None` is read from its environment variable. Without
    an oracle address the search runs alone; with one, the tuner id decides:
    an id containing `chief` serves the oracle (KerasTuner's rule).

    Args:
        tuner_id, oracle_ip, oracle_port: The values, or `None` for the
            environment's.
        labels: How the messages call each value (`{"tuner_id":
            "--tuner-id", ...}` for a command line); default: the variables.

    Raises:
        ValueError: If a tuner id or port is given without the chief's
            address (a worker would run a search of its own), or an address
            without the id or the port. The message names the variables.
    """
    label = {**ENVIRONMENT, **(labels or {})}
    given = {"tuner_id": tuner_id, "oracle_ip": oracle_ip, "oracle_port": oracle_port}
    values = {
        name: os.environ.get(variable) if given[name] is None else str(given[name])
        for name, variable in ENVIRONMENT.items()
    }
    # Set counts, even if empty (KerasTuner's rule: `in os.environ`).
    if values["oracle_ip"] is None:
        stray = [label[n] for n in ("tuner_id", "oracle_port") if values[n] is not None]
        if stray:
            raise ValueError(
                f"{', '.join(stray)} without {label['oracle_ip']}: give "
                "the chief's address to search together, or neither to search "
                f"alone. Received: {_describe(values)}"
            )
        return "single"
    missing = [label[n] for n in ("tuner_id", "oracle_port") if values[n] is None]
    if missing:
        raise ValueError(
            f"distributed search with {label['oracle_ip']} also needs "
            f"{', '.join(missing)}. Received: {_describe(values)}"
        )
    return "chief" if "chief" in values["tuner_id"] else "worker"


def check_overwrite(role, overwrite):
    """Refuses `overwrite=True` on a worker: it would delete the project that
    the chief and the other workers share.

    Raises:
        ValueError: On a worker with `overwrite=True`.
    """
    if role == "worker" and overwrite:
        raise ValueError(
            "overwrite=True on a worker of a distributed search would delete the "
            "project the chief and the other workers share; pass it to the chief "
            "only. Received: overwrite=True on a worker"
        )


@contextlib.contextmanager
def kerastuner_environment(tuner_id, oracle_ip, oracle_port):
    """Sets the variables KerasTuner reads for the `with` block, then puts
    back what was there."""
    saved = {variable: os.environ.get(variable) for variable in ENVIRONMENT.values()}
    values = {"tuner_id": tuner_id, "oracle_ip": oracle_ip, "oracle_port": oracle_port}
    try:
        for name, variable in ENVIRONMENT.items():
            if values[name] is not None:
                os.environ[variable] = str(values[name])
        yield
    finally:
        for variable, value in saved.items():
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value


def _describe(values):
    return ", ".join(f"{ENVIRONMENT[n]}={v!r}" for n, v in values.items())


# The chief's watchdog: a trial is failed after this many times the median
# time of the finished trials without a sign of life (at least FLOOR
# seconds), or BEFORE_ANY_SECONDS while no trial has finished.
TIMEOUT_FACTOR = 3.0
FLOOR_SECONDS = 60.0
BEFORE_ANY_SECONDS = 1800.0


def check_trial_timeout(trial_timeout):
    """`"auto"` or a number of seconds > 0; returns it."""
    if trial_timeout == "auto":
        return trial_timeout
    is_number = isinstance(trial_timeout, (int, float)) and not isinstance(
        trial_timeout, bool
    )
    if not is_number or not math.isfinite(trial_timeout) or trial_timeout <= 0:
        raise ValueError(
            "`trial_timeout` must be 'auto' or a number of seconds > 0. "
            f"Received: trial_timeout={trial_timeout!r}"
        )
    return float(trial_timeout)


class TrialWatchdog:
    """Ends the trial of a worker that stopped reporting (on the chief).

    KerasTuner's chief waits for every trial it handed out; a worker killed
    mid-trial never ends its trial, so the chief waited for ever. At each
    `check` (the chief's loop calls it under the oracle's lock), a trial whose
    worker gave no sign of life (the trial's start, or a heartbeat: the
    trial's callbacks touch a file at every epoch) for longer than the
    timeout is ended as FAILED, with a message naming the worker, and the
    worker is dropped from the oracle's list, so the chief finishes and
    writes the summary. A worker that was only slow and reports later is
    recorded as KerasTuner records any report.

    Args:
        oracle: The chief's oracle.
        trial_timeout: Seconds of silence, or `"auto"`: 3x the median
            duration of the trials finished so far (at least 60 s), 30
            minutes until one has finished.
        heartbeat: `trial_id -> time.time() of the last heartbeat` (or
            `None`).
        clock: The clock (`time.time`), for the tests.
    """

    def __init__(self, oracle, trial_timeout="auto", heartbeat=None, clock=None):
        self.oracle = oracle
        self.trial_timeout = check_trial_timeout(trial_timeout)
        self.heartbeat = heartbeat or (lambda trial_id: None)
        self.clock = clock or time.time
        self.lost = set()
        self._seen = {}  # trial id -> (tuner id, first seen)
        self._durations = []

    def timeout(self):
        """The silence, in seconds, after which a trial is failed."""
        if self.trial_timeout != "auto":
            return self.trial_timeout
        if not self._durations:
            return BEFORE_ANY_SECONDS
        return max(FLOOR_SECONDS, TIMEOUT_FACTOR * statistics.median(self._durations))

    def check(self):
        """Fails the trials whose worker is silent for longer than `timeout`."""
        now = self.clock()
        ongoing = dict(self.oracle.ongoing_trials)
        running = {trial.trial_id for trial in ongoing.values()}
        for trial_id, (_, start) in list(self._seen.items()):
            if trial_id not in running:  # Ended by its worker.
                del self._seen[trial_id]
                if self.oracle.trials[trial_id].status == TrialStatus.COMPLETED:
                    self._durations.append(now - start)
        for tuner_id, trial in ongoing.items():
            if trial.trial_id not in self._seen:
                self._seen[trial.trial_id] = (tuner_id, now)
                continue
            start = self._seen[trial.trial_id][1]
            silence = now - max(start, self.heartbeat(trial.trial_id) or start)
            if silence > self.timeout():
                self._fail(tuner_id, trial, silence)

    def lost_every_worker(self):
        """Whether workers were lost and none is left registered (no worker
        will ask for the next trial, nor be told to stop)."""
        return bool(self.lost) and not self.oracle.tuner_ids

    def _fail(self, tuner_id, trial, silence):
        message = (
            f"worker {tuner_id} gave no sign of life for {silence:.0f} s "
            f"(trial_timeout: {self.timeout():.0f} s); the trial is marked "
            "failed"
        )
        print(f"[chief] trial {trial.trial_id}: {message}", flush=True)
        trial.status = TrialStatus.FAILED
        trial.message = message
        try:
            self.oracle.end_trial(trial)
        except RuntimeError as error:  # KerasTuner's 3 failures in a row.
            print(f"[chief] {error}", flush=True)
        self.oracle.ongoing_trials.pop(tuner_id, None)
        self.oracle.tuner_ids.discard(tuner_id)
        self.lost.add(tuner_id)
        del self._seen[trial.trial_id]
