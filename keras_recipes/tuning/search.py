"""`search`: one call from data to a tuned model, its table and its logs."""

import shutil
from pathlib import Path

import keras
import keras_tuner
import numpy as np

from keras_recipes._internal.names import SEARCH_ALGORITHMS
from keras_recipes._internal.validation import (
    check_bool,
    check_choice,
    check_int,
    check_path,
    check_positive_int,
    check_samples,
    check_validation_data,
)
from keras_recipes.tuning.distributed import (
    check_overwrite,
    check_trial_timeout,
    distributed_role,
)
from keras_recipes.tuning.hypermodel import MLPHyperModel
from keras_recipes.tuning.summary import summarize
from keras_recipes.tuning.tensorboard import write_experiment
from keras_recipes.tuning.tuners import make_tuner


def search(
    x,
    y=None,
    *,
    validation_data=None,
    hypermodel=None,
    space=None,
    algorithm="random",
    objective="val_accuracy",
    max_trials=10,
    epochs=10,
    factor=3,
    patience=5,
    directory="runs",
    project_name="search",
    overwrite=False,
    seed=None,
    executions_per_trial=1,
    callbacks=None,
    log_dir=None,
    verbose=1,
    progress=True,
    trial_timeout="auto",
):
    """Searches hyperparameters with KerasTuner, logging every trial.

    Every trial gets `keras_recipes.EarlyStopping` and `BestCheckpoint` on the
    objective, a TensorBoard run with train and validation scalars, the
    learning rate and the momentum per epoch, and an hparams session (on every
    backend); the search's experiment summary makes TensorBoard's HParams tab
    compare trials on the objective. A trial that raises is recorded as failed
    and the search goes on (KerasTuner stops after 3 failures in a row, and
    the summary records them). With `overwrite=True` the project and, if it is
    inside `directory`, the TensorBoard folder start empty. With
    `overwrite=False` a search over an existing project resumes: finished
    trials are kept, a trial interrupted mid-way runs again.

    Distributed: set `KERASTUNER_TUNER_ID` (`chief`, or `tuner0`, `tuner1`,
    ... for workers), `KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT` in
    each process and give all of them the same `directory` (a shared folder).
    The chief serves the oracle and, when all trials are done, returns the
    summary; a worker runs trials and returns `None`. A worker that dies
    mid-trial (no sign of life for `trial_timeout`) gets its trial marked
    FAILED, and the chief finishes (KerasTuner's waits for ever).

    Args:
        x, y: Training data, as for `fit`.
        validation_data: `(x_val, y_val)`; needed for `val_*` objectives.
        hypermodel: A `keras_tuner.HyperModel` (or a `build(hp)` function);
            default `MLPHyperModel` over `x`'s sample shape and `y`'s classes.
        space: Narrows the default `MLPHyperModel`'s space (see its docs).
        algorithm: `"random"`, `"bayesian"`, `"hyperband"` or `"grid"` (with
            `"grid"`, every entry of `space` must be a list, a value or a
            linear integer range such as the default `hidden_layers`).
        objective: Metric to optimize (e.g. `"val_accuracy"`, `"val_loss"`).
        max_trials: Trials for random, bayesian and grid search.
        epochs: Epochs per trial (Hyperband: the most epochs of a trial).
        factor: Hyperband's reduction factor.
        patience: Early-stopping patience of every trial.
        directory: Parent folder of the project.
        project_name: The project's folder name, in `directory`.
        overwrite: Start over, deleting the project (default: resume).
        seed: Seed of the oracle (which trials it proposes).
        executions_per_trial: Fits per trial; the objective is their mean.
        callbacks: More callbacks for every trial; they must be deep-copyable
            (KerasTuner copies them for each trial).
        log_dir: TensorBoard folder; default `<project>/tensorboard`, or the
            folder of a `keras.callbacks.TensorBoard` in `callbacks`.
        verbose: Fit verbosity of the trials.
        progress: Print one line per finished trial: its id, score and
            hyperparameters, the best so far, its time, the elapsed time and
            an ETA (none for Hyperband). On a worker, the best is of the
            trials this process ran.
        trial_timeout: On the chief: the seconds without a sign of life (the
            trial's start, or the end of one of its epochs) after which a
            worker's trial is failed; `"auto"` is 3x the median duration of
            the finished trials (at least 60 s; 30 minutes until one has
            finished).

    Returns:
        A `SearchResult` (on the chief or a single machine), `None` on a
        worker. Also written to the project folder: `summary.md`,
        `summary.csv`, `best_hyperparameters.json`, `best_model.keras`.

    Raises:
        ValueError: On a bad argument, or an incomplete KERASTUNER_*
            environment (`distributed_role`: e.g. a tuner id without the
            chief's address, which would run a search of its own).
        RuntimeError: When KerasTuner stops the search after 3 failed trials
            in a row; the summary files are written first.

    Example:

    >>> result = search(x, y, validation_data=(x_val, y_val), max_trials=20,
    ...                 space={"activation": ["relu", "selu"]})
    >>> print(result.table(max_rows=5))
    >>> model = keras.models.load_model(result.best_model_path)
    """
    _check_arguments(
        x,
        y,
        validation_data=validation_data,
        hypermodel=hypermodel,
        algorithm=algorithm,
        objective=objective,
        max_trials=max_trials,
        epochs=epochs,
        factor=factor,
        patience=patience,
        directory=directory,
        project_name=project_name,
        overwrite=overwrite,
        seed=seed,
        executions_per_trial=executions_per_trial,
        callbacks=callbacks,
        log_dir=log_dir,
        verbose=verbose,
        progress=progress,
        trial_timeout=trial_timeout,
    )
    if hypermodel is None:
        if y is None:
            raise ValueError(
                "The default hypermodel needs labels `y`. Received: y=None"
            )
        labels = np.unique(np.asarray(y))
        if not np.issubdtype(labels.dtype, np.integer) or not np.array_equal(
            labels, np.arange(len(labels))
        ):
            shown = ", ".join(map(str, labels[:6])) + (
                " ..." if len(labels) > 6 else ""
            )
            raise ValueError(
                "The default hypermodel needs class ids 0..C-1 in `y` (C softmax "
                f"outputs). Received: labels {shown}. Map them first, e.g. "
                "`classes, y = np.unique(y, return_inverse=True)` "
                "(`keras_recipes.data.load_dataset` does)."
            )
        num_classes = len(labels)
        hypermodel = MLPHyperModel(np.shape(x)[1:], num_classes, space=space)
    elif space is not None:
        raise ValueError(
            "`space` narrows the default hypermodel; with your own `hypermodel`, "
            "narrow it in the hypermodel. Received: space and hypermodel"
        )
    if algorithm == "grid" and isinstance(hypermodel, MLPHyperModel):
        ranges = [
            name
            for name, value in hypermodel.space.items()
            if isinstance(value, tuple) and not hypermodel.is_grid_range(name)
        ]
        if ranges:
            raise ValueError(
                "Grid search needs a list of values (or one value), or a linear "
                "integer range, for every entry of `space`; these are "
                f"continuous or log ranges: {ranges}"
            )

    role = distributed_role()
    check_overwrite(role, overwrite)
    is_worker = role == "worker"
    tuner = make_tuner(
        algorithm,
        hypermodel,
        objective=objective,
        max_trials=max_trials,
        epochs=epochs,
        factor=factor,
        patience=patience,
        directory=str(directory),
        project_name=project_name,
        overwrite=overwrite,
        seed=seed,
        executions_per_trial=executions_per_trial,
        progress=progress,
        trial_timeout=trial_timeout,
    )
    project_dir = Path(tuner.project_dir)
    callbacks = list(callbacks or [])
    yours = [c for c in callbacks if isinstance(c, keras.callbacks.TensorBoard)]
    if yours:  # Yours, with its options; KerasTuner (or we) give it a run per trial.
        if log_dir is not None:
            raise ValueError(
                "Give the TensorBoard folder once: `log_dir` or a "
                "`keras.callbacks.TensorBoard` in `callbacks`, not both. "
                f"Received: log_dir={str(log_dir)!r} and "
                f"TensorBoard(log_dir={yours[0].log_dir!r})"
            )
        log_dir = Path(yours[0].log_dir)
    else:
        log_dir = Path(log_dir) if log_dir else project_dir / "tensorboard"
        callbacks.append(keras.callbacks.TensorBoard(str(log_dir)))
    if overwrite and log_dir.resolve().is_relative_to(Path(directory).resolve()):
        # KerasTuner deleted the project; the runs of its trials go with it
        # (a TensorBoard folder outside `directory` is left alone).
        shutil.rmtree(log_dir, ignore_errors=True)
    fit_kwargs = {"epochs": epochs} if algorithm != "hyperband" else {}
    if not is_worker:
        metrics = ["loss", "val_loss"] if validation_data is not None else ["loss"]
        write_experiment(log_dir, tuner.oracle.get_space(), objective, metrics)
    try:
        tuner.search(
            x,
            y,
            validation_data=validation_data,
            callbacks=callbacks,
            verbose=verbose,
            **fit_kwargs,
        )
    except Exception:
        # E.g. KerasTuner giving up after 3 failed trials in a row: the
        # summary still records what ran and why it failed.
        if not is_worker:
            summarize(tuner, log_dir)
        raise
    if is_worker:
        return None
    return summarize(tuner, log_dir)


def _check_arguments(x, y, *, validation_data, hypermodel, algorithm, objective,
                     max_trials, epochs, factor, patience, directory, project_name,
                     overwrite, seed, executions_per_trial, callbacks, log_dir,
                     verbose, progress, trial_timeout):  # fmt: skip
    """`search`'s arguments, checked before anything is made or written."""
    check_positive_int("epochs", epochs)
    check_positive_int("executions_per_trial", executions_per_trial)
    check_positive_int("max_trials", max_trials)
    check_positive_int("patience", patience)
    check_int("factor", factor, low=2)
    check_int("seed", seed, low=0, allow_none=True)
    check_bool("overwrite", overwrite)
    check_bool("progress", progress)
    check_trial_timeout(trial_timeout)
    check_path("directory", directory)
    if not isinstance(project_name, str) or not project_name:
        raise TypeError(
            "`project_name` must be a non-empty folder name (a str). "
            f"Received: project_name={project_name!r}"
        )
    if not isinstance(objective, str):
        raise TypeError(
            "`objective` must be a metric name such as 'val_accuracy'. "
            f"Received: objective={objective!r}"
        )
    if objective.startswith("val_") and validation_data is None:
        raise ValueError(
            f"objective={objective!r} needs `validation_data`. Received: "
            "validation_data=None"
        )
    check_choice("algorithm", algorithm, SEARCH_ALGORITHMS)
    check_choice("verbose", verbose, (0, 1, 2, "auto"))
    check_path("log_dir", log_dir, allow_none=True)
    if hypermodel is not None and not (
        isinstance(hypermodel, keras_tuner.HyperModel) or callable(hypermodel)
    ):
        raise TypeError(
            "`hypermodel` must be a keras_tuner.HyperModel or a build(hp) "
            f"function. Received: hypermodel={hypermodel!r}"
        )
    if callbacks is not None and (
        not isinstance(callbacks, (list, tuple))
        or not all(isinstance(c, keras.callbacks.Callback) for c in callbacks)
    ):
        raise TypeError(
            "`callbacks` must be a list of keras.callbacks.Callback. "
            f"Received: callbacks={callbacks!r}"
        )
    check_samples("x", x, "y", y)
    check_validation_data(validation_data, allow_none=True)
