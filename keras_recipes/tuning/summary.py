"""The summary of a search: its trials ranked, a table, the best model."""

import csv
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from keras_recipes._internal.atomic import (
    StateFileError,
    atomic_path,
    file_sha256,
    read_json,
    write_json,
)
from keras_recipes._internal.keras_internals import (
    checkpoint_digest,
    load_trial_model,
    trial_checkpoint,
)
from keras_recipes.tuning.tuners import RECORD_FILE


@dataclass
class SearchResult:
    """What a search leaves behind (on the chief, or a search on one machine).

    Attributes:
        trials: One dict per trial, best first (failed trials last): `trial_id`,
            `status`, `score`, `epochs`, `seconds`, `tuner_id`, `continues`
            (Hyperband: the trial whose weights it starts from), `message`
            (the error's last line for a failed trial) and `hyperparameters`.
        best_hyperparameters: The best trial's hyperparameter values.
        best_model_path: `<project>/best_model.keras`: the best trial's model
            at its best epoch, compiled, its optimizer fresh (`None` if no
            trial has a checkpoint).
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


def summarize(tuner, log_dir=None):
    """The `SearchResult` of a tuner made by `make_tuner`, written to its project.

    Writes `summary.md`, `summary.csv`, `best_hyperparameters.json` and
    `best_model.keras` (the best trial's model, built from its
    hyperparameters, with the weights of its best epoch) to the project
    folder, each atomically.
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
        result.best_model_path = _save_best_model(
            tuner, best["trial_id"], project_dir / "best_model.keras"
        )
    write_json(project_dir / "best_hyperparameters.json", result.best_hyperparameters)
    with atomic_path(project_dir / "summary.md") as tmp:
        Path(tmp).write_text(result.table() + "\n")
    _write_csv(project_dir / "summary.csv", rows)
    return result


def _save_best_model(tuner, trial_id, path):
    """Saves the trial's model with its best epoch's weights to `path`; `None`
    if the trial has no checkpoint.

    One `.keras` file per search, not one per trial and improving epoch: the
    weights of every trial's best epoch are KerasTuner's checkpoint already.
    """
    checkpoint = trial_checkpoint(tuner, trial_id)
    if not checkpoint.is_file():
        return None
    problem = _damage(checkpoint)
    if problem is None:
        try:
            with warnings.catch_warnings():
                # The checkpoint holds Adam's slots, the new model's optimizer
                # has none yet: the best model is for predicting or training
                # on, not for resuming the trial's optimizer.
                warnings.filterwarnings(
                    "ignore", message="Skipping variable loading for optimizer"
                )
                model = load_trial_model(tuner, tuner.oracle.trials[trial_id])
        except Exception as error:  # h5py and Keras raise many kinds.
            problem = f"it cannot be loaded: {type(error).__name__}: {error}"
    if problem is not None:
        raise StateFileError(
            f"The checkpoint of the best trial ({trial_id}), {checkpoint}, is "
            f"damaged ({problem}). It was written atomically, so it changed "
            "afterwards; start the search over (overwrite=True), or load "
            "another trial's model with tuner.load_model(trial)."
        )
    with atomic_path(path) as tmp:
        model.save(tmp)
    return path


def _damage(checkpoint):
    """What differs from the size and SHA-256 recorded when `checkpoint` was
    saved (`None` if nothing, or if nothing was recorded: bare KerasTuner)."""
    record = read_json(checkpoint_digest(checkpoint))
    if record is None:
        return None
    if not (
        isinstance(record, dict)
        and isinstance(record.get("size"), int)
        and isinstance(record.get("sha256"), str)
    ):
        return f"its record {checkpoint_digest(checkpoint)} holds {record!r}"
    size = checkpoint.stat().st_size
    if size != record["size"]:
        return f"its size is {size:,} bytes, {record['size']:,} were saved"
    if file_sha256(checkpoint) != record["sha256"]:
        return "its SHA-256 differs from the one recorded when it was saved"
    return None


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
