"""KerasTuner's tuners with our early stopping, best checkpoint and logs per trial.

`make_tuner` returns KerasTuner's own `RandomSearch`, `BayesianOptimization`,
`Hyperband` or `GridSearch`, with a mixin that adds to every trial:

* `keras_recipes.EarlyStopping` on the objective, new for each trial (the
  weights of a trial's best epoch are KerasTuner's own checkpoint, written
  atomically here; the best trial's model is saved once, at the end, as
  `<project>/best_model.keras`);
* `record.json` in the trial folder: who ran it, epochs run and seconds, for
  the summary table (KerasTuner keeps neither);
* a TensorBoard run folder per trial and execution, and the trial's hparams
  session, on every backend (KerasTuner does it on TensorFlow only; its hook
  is replaced, so nothing is written twice);
* the learning rate and momentum in the epoch logs.

KerasTuner's own state files (oracle, trials, tuner, the trial checkpoint)
are written atomically, the previous JSON copy kept; a rerun falls back to
that copy where a file is torn, or names the file and the fix.

On the chief of a distributed search, a trial whose worker gives no sign of
life for `trial_timeout` is failed, so that the chief finishes (see
`tuning.distributed.TrialWatchdog`). Everything else (the oracle, resuming,
retries of failed trials, the chief/worker mode) is KerasTuner's.
"""

import shutil
import time
from pathlib import Path

import keras
import keras_tuner

from keras_recipes._internal.atomic import read_json, write_json
from keras_recipes._internal.keras_internals import (
    TensorBoardHook,
    build_and_fit,
    checkpoint_digest,
    make_state_safe,
    save_tuner_state,
    serve_oracle,
    trial_checkpoint,
)
from keras_recipes._internal.names import SEARCH_ALGORITHMS
from keras_recipes._internal.validation import (
    check_bool,
    check_choice,
    check_positive_int,
)
from keras_recipes.callbacks.early_stopping import EarlyStopping
from keras_recipes.callbacks.optimizer_logs import OptimizerLogs
from keras_recipes.tuning.distributed import (
    TrialWatchdog,
    check_trial_timeout,
    distributed_role,
)
from keras_recipes.tuning.hypermodel import MLPHyperModel
from keras_recipes.tuning.progress import SearchProgress
from keras_recipes.tuning.tensorboard import hparams_callback, trial_log_dir

ALGORITHMS = SEARCH_ALGORITHMS
RECORD_FILE = "record.json"
HEARTBEAT_FILE = "heartbeat"

_STATE_FIX = {
    "oracle.json": "Pass overwrite=True (`keras-recipes tune --overwrite`) to "
    "start the search afresh.",
    "trial.json": "Delete the trial's folder {folder} to run that trial again.",
    "build_config.json": "Delete the trial's folder {folder} to run that trial again.",
}


def recover_project(project_dir):
    """Checks every KerasTuner state file of a project before KerasTuner reads
    it (KerasTuner writes them in place: a kill can tear one). A torn file is
    replaced by its previous copy (with a warning), and one without a good
    copy raises `StateFileError` naming it and the fix."""
    project = Path(project_dir)
    files = [project / "oracle.json", *sorted(project.glob("tuner*.json"))]
    files += sorted(project.glob("trial_*/trial.json"))
    files += sorted(project.glob("trial_*/build_config.json"))
    for path in files:
        fix = _STATE_FIX.get(path.name, "Delete it to start that part afresh.")
        read_json(path, fix=fix.format(folder=path.parent))


class _TrialCallbacks(TensorBoardHook):
    """Mixin for a KerasTuner `Tuner`: our callbacks and records per trial."""

    # The length of every trial's schedule, in epochs, if not the trial's own
    # (Hyperband: its max_epochs; see `MLPHyperModel.fit`).
    schedule_epochs = None

    def __init__(
        self, *args, patience=5, progress=True, trial_timeout="auto", **kwargs
    ):
        self.patience = check_positive_int("patience", patience)
        self.progress = check_bool("progress", progress)
        self.trial_timeout = check_trial_timeout(trial_timeout)
        self._progress = None
        super().__init__(*args, **kwargs)
        make_state_safe(self)

    # KerasTuner writes its state files in place; these write them atomically
    # and read them back checked (see `_internal.keras_internals`).
    def reload(self):
        recover_project(self.project_dir)
        make_state_safe(self)
        super().reload()

    def save(self):
        save_tuner_state(self)

    def _build_and_fit_model(self, trial, *args, **kwargs):
        return build_and_fit(self, trial, *args, **kwargs)

    def search(self, *fit_args, **fit_kwargs):
        if distributed_role() != "chief":
            return super().search(*fit_args, **fit_kwargs)
        # KerasTuner's chief branch of `search`, serving the oracle with a
        # watchdog: a worker killed mid-trial no longer hangs the chief.
        if "verbose" in fit_kwargs:
            self.oracle.verbose = fit_kwargs["verbose"]
        self.save()
        watchdog = TrialWatchdog(
            self.oracle, self.trial_timeout, heartbeat=self._heartbeat
        )
        serve_oracle(self.oracle, watchdog)
        return None

    def _heartbeat(self, trial_id):
        path = Path(self.get_trial_dir(trial_id)) / HEARTBEAT_FILE
        try:
            return path.stat().st_mtime
        except OSError:
            return None

    def on_search_begin(self):
        super().on_search_begin()
        # KerasTuner reloads a project only if the tuner's file exists, and
        # writes it first at the end of the first trial: a kill before then
        # made the rerun start over on top of the finished trial.
        save_tuner_state(self)
        if self.progress:
            objective = self.oracle.objective
            total = getattr(self.oracle, "max_trials", None)
            if isinstance(self.oracle, keras_tuner.oracles.HyperbandOracle):
                total = None  # Its trial count is not max_trials.
            self._progress = SearchProgress(
                objective.name, objective.direction, total=total
            )

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        if self._progress is not None:
            self._progress.trial_started()

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        if self._progress is not None:
            score = trial.score
            if score is None and self.oracle.objective.name in trial.metrics.metrics:
                score = trial.metrics.get_best_value(self.oracle.objective.name)
            self._progress.trial_ended(
                trial.trial_id, trial.status, score, _varying(trial.hyperparameters)
            )

    def run_trial(self, trial, *args, **kwargs):
        trial_dir = Path(self.get_trial_dir(trial.trial_id))
        callbacks = list(kwargs.pop("callbacks", None) or [])
        # A trial that runs again (the search was interrupted during it)
        # starts from nothing, like its model: checkpoint, record, runs.
        checkpoint = trial_checkpoint(self, trial.trial_id)
        checkpoint.unlink(missing_ok=True)
        checkpoint_digest(checkpoint).unlink(missing_ok=True)
        (trial_dir / RECORD_FILE).unlink(missing_ok=True)
        for board in _boards(callbacks):
            shutil.rmtree(Path(board.log_dir) / str(trial.trial_id), ignore_errors=True)
        objective = self.oracle.objective
        callbacks = [OptimizerLogs(), *callbacks]
        callbacks += [
            EarlyStopping(
                objective.name, mode=objective.direction, patience=self.patience
            ),
            _TrialRecord(trial_dir / RECORD_FILE, self.tuner_id),
        ]
        if isinstance(self.hypermodel, MLPHyperModel) and self.schedule_epochs:
            kwargs["schedule_epochs"] = self.schedule_epochs
        return super().run_trial(trial, *args, callbacks=callbacks, **kwargs)

    def configure_trial_tensorboard(self, callbacks, trial, execution=0):
        """Gives each `TensorBoard` callback the trial's run folder and adds
        its hparams session (KerasTuner's hook, which it fills on TensorFlow
        only, and for classes named "TensorBoard" only: ours, the same on
        every backend)."""
        for callback in _boards(callbacks):
            log_dir = trial_log_dir(callback.log_dir, trial.trial_id, execution)
            callback.log_dir = str(log_dir)
            callbacks.append(
                hparams_callback(log_dir, trial.hyperparameters, trial.trial_id)
            )


def _varying(hyperparameters):
    """The values of the hyperparameters the search chooses (not the fixed
    ones, nor a choice of one, nor a range of one value)."""
    fixed = {hp.name for hp in hyperparameters.space if _is_fixed(hp)}
    return {k: v for k, v in hyperparameters.values.items() if k not in fixed}


def _is_fixed(hp):
    # By type: `Int.values` is a generator (no len), `Float` has none.
    kinds = keras_tuner.engine.hyperparameters
    if isinstance(hp, kinds.Fixed):
        return True
    if isinstance(hp, kinds.Choice):
        return len(hp.values) == 1
    if isinstance(hp, (kinds.Int, kinds.Float)):
        return hp.min_value == hp.max_value
    return False


def _boards(callbacks):
    return [c for c in callbacks if isinstance(c, keras.callbacks.TensorBoard)]


class _TrialRecord(keras.callbacks.Callback):
    """Appends one execution (epochs, seconds) to the trial's `record.json`."""

    def __init__(self, path, tuner_id):
        super().__init__()
        self.path = Path(path)
        self.tuner_id = tuner_id

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()
        self._epochs = 0
        self._initial_epoch = None
        self._beat()

    def on_epoch_begin(self, epoch, logs=None):
        if self._initial_epoch is None:
            self._initial_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        self._epochs += 1
        self._beat()

    def _beat(self):
        # A sign of life for the chief's watchdog (distributed search).
        # (`touch` sets the time of a file that exists.)
        (self.path.parent / HEARTBEAT_FILE).touch()

    def on_train_end(self, logs=None):
        record = read_json(self.path) or {"tuner_id": self.tuner_id, "executions": []}
        record["executions"].append(
            {
                "epochs": self._epochs,
                "initial_epoch": self._initial_epoch or 0,
                "seconds": round(time.perf_counter() - self._start, 3),
            }
        )
        write_json(self.path, record)


class RandomSearch(_TrialCallbacks, keras_tuner.RandomSearch):
    """`keras_tuner.RandomSearch` with the per-trial additions above."""


class BayesianOptimization(_TrialCallbacks, keras_tuner.BayesianOptimization):
    """`keras_tuner.BayesianOptimization` with the per-trial additions above."""


class Hyperband(_TrialCallbacks, keras_tuner.Hyperband):
    """`keras_tuner.Hyperband` with the per-trial additions above.

    With `MLPHyperModel`, every trial's schedule spans `max_epochs`: a trial
    is the beginning of the full training, so one continued from another's
    weights goes on along the same schedule (a 1cycle does not restart).
    """

    def __init__(self, *args, max_epochs=100, **kwargs):
        super().__init__(*args, max_epochs=max_epochs, **kwargs)
        self.schedule_epochs = max_epochs


class GridSearch(_TrialCallbacks, keras_tuner.GridSearch):
    """`keras_tuner.GridSearch` with the per-trial additions above."""


_TUNERS = {
    "random": RandomSearch,
    "bayesian": BayesianOptimization,
    "hyperband": Hyperband,
    "grid": GridSearch,
}


def make_tuner(
    algorithm,
    hypermodel,
    *,
    objective="val_accuracy",
    max_trials=10,
    epochs=10,
    factor=3,
    patience=5,
    **kwargs,
):
    """One of KerasTuner's tuners, with our callbacks and records per trial.

    Args:
        algorithm: `"random"`, `"bayesian"`, `"hyperband"` or `"grid"`.
        hypermodel: A `keras_tuner.HyperModel` (e.g. `MLPHyperModel`).
        objective: The metric to optimize; its direction follows from its name
            (KerasTuner's rule) or give a `keras_tuner.Objective`.
        max_trials: Trials to run (random, bayesian, grid; Hyperband sets its
            own count from `epochs` and `factor`).
        epochs: Hyperband's `max_epochs` (the others get `epochs` in `search`).
        factor: Hyperband's reduction factor.
        patience: Early-stopping patience in every trial.
        **kwargs: Passed to the KerasTuner tuner (`directory`, `project_name`,
            `overwrite`, `executions_per_trial`, ...). `seed` (an int, 0
            included) seeds the oracle: KerasTuner gets `seed + 1`, since it
            takes 0 for "no seed".

    Returns:
        The tuner.
    """
    check_choice("algorithm", algorithm, ALGORITHMS)
    check_positive_int("max_trials", max_trials)
    if algorithm == "hyperband":
        kwargs.update(max_epochs=check_positive_int("epochs", epochs), factor=factor)
    else:
        kwargs["max_trials"] = max_trials
    seed = kwargs.pop("seed", None)
    if seed is not None:
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"`seed` must be an int >= 0. Received: seed={seed!r}")
        # KerasTuner reads a seed of 0 as "no seed" (`seed or random...`).
        kwargs["seed"] = int(seed) + 1
    return _TUNERS[algorithm](
        hypermodel, objective=objective, patience=patience, **kwargs
    )
