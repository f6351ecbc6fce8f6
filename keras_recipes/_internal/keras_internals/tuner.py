"""The fence's KerasTuner internals (checked on KerasTuner 1.4.7 and 1.4.8).

* `Tuner._configure_tensorboard_dir(callbacks, trial, execution)`: the hook
  that gives each trial's `TensorBoard` callback its own folder and hparams
  session. KerasTuner fills it on the TensorFlow backend only;
  `TensorBoardHook` replaces it with a public method of ours.
* `keras_tuner.src.engine.tuner_utils.convert_hyperparams_to_hparams`: the
  conversion of hyperparameters to TensorBoard `HParam`s that KerasTuner uses
  for its own hparams sessions (no public name).
* Its state writes: `oracle.json`, each `trial.json`, `tuner0.json`,
  `build_config.json` and the trial checkpoint are written in place, so a
  kill inside one leaves a torn file and every rerun fails with a bare
  `JSONDecodeError`. No public hook: `make_state_safe(tuner)` subclasses the
  oracle's class with atomic writes (`keras_recipes._internal.atomic`: temp
  file, fsync, rename, the previous JSON kept), and so do the tuner's. They
  use `Oracle.save`, `._save_trial`, `._get_oracle_fname`,
  `._get_trial_dir`, `._retry_queue`, `BaseTuner._is_worker`,
  `._get_tuner_fname`, `Tuner._try_build`, `._get_build_config_fname`,
  `._build_and_fit_model`, `SaveBestEpoch._save_model` (it also records the
  checkpoint's size and SHA-256: h5 has no checksum of the weights) and
  `Tuner._get_checkpoint_fname` (`trial_checkpoint`; `Tuner.load_model`
  does not say which file it read, and clears the session: 0.5 s, which
  `load_trial_model` skips).
* The chief's loop, `keras_tuner.src.distribute.oracle_chief.start_server`:
  it waits for ever on a worker killed mid-trial (no timeout, no public
  hook). `serve_oracle` is the same loop on its `OracleServicer` and
  `exit_chief` and `keras_tuner.src.protos`, with a watchdog.
"""

import functools
import os
import time
import types
from concurrent import futures
from pathlib import Path

from keras_recipes._internal.atomic import (
    atomic_path,
    file_sha256,
    read_json,
    write_json,
)


class TensorBoardHook:
    """Mixin for a KerasTuner `Tuner`: its per-trial TensorBoard hook becomes
    `configure_trial_tensorboard(callbacks, trial, execution)`, which the
    class that uses the mixin defines (on every backend)."""

    def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
        self.configure_trial_tensorboard(callbacks, trial, execution)


def hparams_of(hyperparameters, hparams_api):
    """`{HParam: value}` of the active hyperparameters, as KerasTuner maps them
    for its own hparams sessions."""
    from keras_tuner.src.engine import tuner_utils

    return tuner_utils.convert_hyperparams_to_hparams(hyperparameters, hparams_api)


def hparam_domains(hyperparameters, hparams_api):
    """The TensorBoard `HParam` (name and domain) of every hyperparameter of a
    space, inactive conditional ones too, as KerasTuner maps them."""

    # What the conversion reads: `.space`, and `.get(name)` (the value, which
    # a domain does not need; KerasTuner skips inactive names).
    space = types.SimpleNamespace(space=list(hyperparameters.space), get=lambda n: None)
    return list(hparams_of(space, hparams_api))


class _SafeOracleWrites:
    """What `make_state_safe` adds to an oracle's class: atomic writes."""

    def save(self):
        write_json(
            self._get_oracle_fname(),
            self.get_state(),
            keep_previous=True,
            allow_nan=True,
        )

    def reload(self):
        super().reload()
        # `end_trial` writes the trial's file, then `oracle.json` while the
        # trial is still listed as ongoing (it is popped after the save): a
        # kill before the next save makes KerasTuner run the finished trial
        # again. Its own file says it finished; it stays finished.
        finished = [
            trial_id
            for trial_id in self._retry_queue
            if self.trials[trial_id].status in ("COMPLETED", "FAILED")
        ]
        for trial_id in finished:
            self._retry_queue.remove(trial_id)
            if trial_id not in self.end_order:
                self.end_order.append(trial_id)
        # A trial whose file fell back to a copy from before it finished runs
        # again (its result is gone with the torn file).
        for trial_id, trial in self.trials.items():
            unfinished = trial.status == "RUNNING"
            if unfinished and trial_id not in self._retry_queue:
                self._retry_queue.append(trial_id)
                if trial_id in self.end_order:
                    self.end_order.remove(trial_id)

    def _save_trial(self, trial):
        folder = self._get_trial_dir(trial.trial_id)
        write_json(
            os.path.join(folder, "trial.json"),
            trial.get_state(),
            keep_previous=True,
            allow_nan=True,
        )


_SAFE_CLASSES = {}


def make_state_safe(tuner):
    """Makes every state write of `tuner` and its oracle atomic (see the
    module docstring). On a worker the oracle is a client of the chief's, which
    writes the oracle's files; the worker's own writes are made safe."""
    import keras_tuner

    oracle = tuner.oracle
    if isinstance(oracle, keras_tuner.Oracle) and not isinstance(
        oracle, _SafeOracleWrites
    ):
        kind = type(oracle)
        if kind not in _SAFE_CLASSES:
            _SAFE_CLASSES[kind] = type(kind.__name__, (_SafeOracleWrites, kind), {})
        oracle.__class__ = _SAFE_CLASSES[kind]


def save_tuner_state(tuner):
    """`BaseTuner.save`, with atomic writes."""
    if not tuner._is_worker():
        tuner.oracle.save()
    write_json(
        tuner._get_tuner_fname(), tuner.get_state(), keep_previous=True, allow_nan=True
    )


def trial_checkpoint(tuner, trial_id):
    """The weights file of the trial's best epoch, which KerasTuner's own
    `SaveBestEpoch` writes (and `Tuner.load_model` reads). Beside it,
    `checkpoint_digest(path)` holds its size and SHA-256."""
    return Path(tuner._get_checkpoint_fname(trial_id))


def load_trial_model(tuner, trial):
    """`Tuner.load_model(trial)` without its `clear_session()` and two
    `gc.collect()` (0.5 s on a CPU, which a search pays at its end): the
    trial's model, built from its hyperparameters (from its build config if
    the hypermodel leaves it unbuilt), with its best epoch's weights."""
    import contextlib

    model = tuner.hypermodel.build(trial.hyperparameters.copy())
    if not model.built:
        config = read_json(tuner._get_build_config_fname(trial.trial_id))
        model.build_from_config(config)
    strategy = tuner.distribution_strategy
    with strategy.scope() if strategy else contextlib.nullcontext():
        model.load_weights(trial_checkpoint(tuner, trial.trial_id))
    return model


def checkpoint_digest(path):
    """Where the size and SHA-256 of a trial checkpoint are kept."""
    return Path(f"{path}.digest.json")


def build_and_fit(tuner, trial, *args, **kwargs):
    """`Tuner._build_and_fit_model`, with the trial checkpoint and the build
    config written atomically."""
    from keras_tuner.src.backend import config
    from keras_tuner.src.engine import tuner_utils

    for callback in kwargs.get("callbacks") or []:
        if type(callback) is tuner_utils.SaveBestEpoch:
            callback.__class__ = _safe_save_best_epoch()
    hp = trial.hyperparameters
    model = tuner._try_build(hp)
    results = tuner.hypermodel.fit(hp, model, *args, **kwargs)
    if config.multi_backend():
        write_json(
            tuner._get_build_config_fname(trial.trial_id), model.get_build_config()
        )
    tuner_utils.validate_trial_results(
        results, tuner.oracle.objective, "HyperModel.fit()"
    )
    return results


@functools.cache
def _safe_save_best_epoch():
    """KerasTuner's per-trial checkpoint callback, writing atomically
    (made on first use: KerasTuner is imported only when a search runs)."""
    from keras_tuner.src.engine import tuner_utils

    class SaveBestEpoch(tuner_utils.SaveBestEpoch):
        def _save_model(self):
            with atomic_path(self.filepath) as tmp:
                self.model.save_weights(tmp)
                digest = {"size": os.path.getsize(tmp), "sha256": file_sha256(tmp)}
            # Second: a kill between the two leaves an unfinished trial, which
            # runs again from nothing (its checkpoint deleted first).
            write_json(checkpoint_digest(self.filepath), digest)

    return SaveBestEpoch


def serve_oracle(oracle, watchdog, poll_seconds=1.0):
    """KerasTuner's chief (`oracle_chief.start_server`), with a watchdog.

    KerasTuner's loop serves the oracle over gRPC until a worker is told to
    stop and then until no trial is ongoing and no worker is registered: a
    worker killed mid-trial keeps both forever, and the chief waits for ever.
    This is the same loop (its 15 lines, on its `OracleServicer` and
    `exit_chief`), plus `watchdog.check()` under the oracle's lock at each
    poll, which ends the trials of silent workers (see
    `keras_recipes.tuning.distributed.TrialWatchdog`), and an exit when every
    worker was lost.
    """
    import grpc
    import keras_tuner
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = oracle_chief.OracleServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    address = os.environ["KERASTUNER_ORACLE_IP"]
    server.add_insecure_port(f"{address}:{os.environ['KERASTUNER_ORACLE_PORT']}")
    check = keras_tuner.synchronized(lambda oracle: watchdog.check())
    server.start()
    try:
        while True:
            time.sleep(poll_seconds)
            check(oracle)
            told_to_stop = servicer.stop_triggered or watchdog.lost_every_worker()
            if told_to_stop and oracle_chief.exit_chief(oracle):
                break
    finally:
        server.stop(grace=1)
