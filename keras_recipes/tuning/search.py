"""`search`: one call from data to a tuned model, its table and its logs."""

import csv
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from keras_recipes._atomic import atomic_path, read_json, write_json
from keras_recipes._validation import check_positive_int
from keras_recipes.tuning.hypermodel import MLPHyperModel
from keras_recipes.tuning.tensorboard import write_experiment
from keras_recipes.tuning.tuners import RECORD_FILE, make_tuner


@dataclass
class SearchResult:
    """What a search leaves behind (on the chief, or a search on one machine).

    Attributes:
        trials: One dict per trial, best first (failed trials last): `trial_id`,
            `status`, `score`, `epochs`, `seconds`, `tuner_id`, `continues`
            (Hyperband: the trial whose weights it starts from), `message`
            (the error's last line for a failed trial) and `hyperparameters`.
        best_hyperparameters: The best trial's hyperparameter values.
        best_model_path: The best trial's best checkpoint, copied to
            `<project>/best_model.keras` (`None` if no trial finished).
        project_dir: KerasTuner's project folder (trials, oracle, summary).
        log_dir: The TensorBoard folder: one run per trial and execution.
        objective: The objective's metric name.
        direction: `"max"` or `"min"`: which way the objective improves.
        tuner: The KerasTuner tuner.
    """

    trials: list
    best_hyperparameters: dict
    best_model_path: Path
    project_dir: Path
    log_dir: Path
    objective: str
    direction: str = "max"
    tuner: object = field(repr=False, default=None)

    def table(self, max_rows=None):
        """The trials as a Markdown table (hyperparameters, score, epochs, time)."""
        rows = self.trials[:max_rows] if max_rows else self.trials
        names = _hyperparameter_names(self.trials)
        header = ["trial", "status", self.objective, "epochs", "seconds", *names]
        lines = [
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
        ]
        for row in rows:
            cells = [
                row["trial_id"],
                row["status"],
                _format(row["score"]),
                _format(row["epochs"]),
                _format(row["seconds"]),
                *(_format(row["hyperparameters"].get(n)) for n in names),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


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
    summary; a worker runs trials and returns `None`.

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

    Returns:
        A `SearchResult` (on the chief or a single machine), `None` on a
        worker. Also written to the project folder: `summary.md`,
        `summary.csv`, `best_hyperparameters.json`, `best_model.keras`.

    Raises:
        ValueError: On a bad argument.
        RuntimeError: When KerasTuner stops the search after 3 failed trials
            in a row; the summary files are written first.

    Example:

    >>> result = search(x, y, validation_data=(x_val, y_val), max_trials=20,
    ...                 space={"activation": ["relu", "selu"]})
    >>> print(result.table(max_rows=5))
    >>> model = keras.models.load_model(result.best_model_path)
    """
    check_positive_int("epochs", epochs)
    check_positive_int("executions_per_trial", executions_per_trial)
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
    if hypermodel is None:
        if y is None:
            raise ValueError(
                "The default hypermodel needs labels `y`. Received: y=None"
            )
        num_classes = int(np.max(y)) + 1
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

    is_worker = _role() == "worker"
    if is_worker and overwrite:
        raise ValueError(
            "overwrite=True on a worker of a distributed search would delete the "
            "project the chief and the other workers share; pass it to the chief "
            f"only. Received: overwrite=True, KERASTUNER_TUNER_ID="
            f"{os.environ.get('KERASTUNER_TUNER_ID')!r}"
        )
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


def summarize(tuner, log_dir=None):
    """The `SearchResult` of a tuner made by `make_tuner`, written to its project.

    Writes `summary.md`, `summary.csv`, `best_hyperparameters.json` and
    `best_model.keras` (a copy of the best trial's best checkpoint) to the
    project folder, each atomically.
    """
    project_dir = Path(tuner.project_dir)
    objective = tuner.oracle.objective
    rows = []
    for trial in tuner.oracle.trials.values():
        trial_dir = Path(tuner.get_trial_dir(trial.trial_id))
        record = read_json(trial_dir / RECORD_FILE) or {}
        executions = record.get("executions", [])
        score = trial.score
        rows.append(
            {
                "trial_id": trial.trial_id,
                "status": trial.status,
                "score": None if score is None else float(score),
                "epochs": sum(e["epochs"] for e in executions) if executions else None,
                "seconds": (
                    round(sum(e["seconds"] for e in executions), 2)
                    if executions
                    else None
                ),
                "tuner_id": record.get("tuner_id"),
                # Hyperband: the trial this one continues (`None` if none).
                "continues": trial.hyperparameters.values.get("tuner/trial_id"),
                "message": _last_line(trial.message),
                "hyperparameters": {
                    k: v
                    for k, v in trial.hyperparameters.values.items()
                    if trial.hyperparameters.is_active(k)
                },
            }
        )
    sign = -1 if objective.direction == "max" else 1

    def rank(row):
        finite = row["score"] is not None and math.isfinite(row["score"])
        return (not finite, sign * row["score"] if finite else 0, row["trial_id"])

    rows.sort(key=rank)
    best = rows[0] if rows and rank(rows[0])[0] is False else None
    result = SearchResult(
        trials=rows,
        best_hyperparameters=dict(best["hyperparameters"]) if best else {},
        best_model_path=None,
        project_dir=project_dir,
        log_dir=Path(log_dir) if log_dir else project_dir / "tensorboard",
        objective=objective.name,
        direction=objective.direction,
        tuner=tuner,
    )
    if best is not None:
        checkpoint = _best_checkpoint(Path(tuner.get_trial_dir(best["trial_id"])))
        if checkpoint is not None:
            result.best_model_path = project_dir / "best_model.keras"
            with atomic_path(result.best_model_path) as tmp:
                shutil.copyfile(checkpoint, tmp)
    write_json(project_dir / "best_hyperparameters.json", result.best_hyperparameters)
    with atomic_path(project_dir / "summary.md") as tmp:
        Path(tmp).write_text(result.table() + "\n")
    _write_csv(project_dir / "summary.csv", rows)
    return result


def _best_checkpoint(trial_dir):
    """The best checkpoint file of a trial, found through its manifest."""
    manifest = read_json(trial_dir / "best" / "checkpoints.json")
    if not manifest or not manifest.get("checkpoints"):
        return None
    # The manifest holds the writer's paths; the trial folder may be mounted
    # elsewhere here (distributed search over a shared folder).
    path = trial_dir / "best" / Path(manifest["checkpoints"][0]["path"]).name
    return path if path.exists() else None


def _write_csv(path, rows):
    names = _hyperparameter_names(rows)
    fields = ["trial_id", "status", "score", "epochs", "seconds", "tuner_id"]
    fields.append("continues")
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(fields + names + ["message"])
            for row in rows:
                writer.writerow(
                    [row[k] for k in fields]
                    + [row["hyperparameters"].get(n) for n in names]
                    + [row["message"]]
                )


def _hyperparameter_names(rows):
    names = []
    for row in rows:
        for name in row["hyperparameters"]:
            if name not in names and not name.startswith("tuner/"):
                names.append(name)
    return names


def _last_line(message):
    if not message:
        return None
    lines = [line for line in str(message).strip().splitlines() if line.strip()]
    return lines[-1] if lines else None


def _format(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _role():
    """`"chief"`, `"worker"` or `"single"`, from KerasTuner's environment."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return "single"
    return "chief" if "chief" in os.environ.get("KERASTUNER_TUNER_ID", "") else "worker"
