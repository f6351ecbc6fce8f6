"""Tune the paired MLP with KerasTuner, on the embedded digits or your data.

Searches depth, width, activation (the initializer follows it), batch norm,
dropout, L2, optimizer, learning rate, LR schedule and batch size with
`keras_recipes.tuning.search`: random search, Bayesian optimization,
Hyperband or grid search, early stopping and the best checkpoint in every
trial, one TensorBoard run per trial with its hparams. Ends with the trials
table, the best hyperparameters and the best model's test accuracy.

Usage:
    keras-recipes tune                               # digits, random search
    keras-recipes tune --algorithm hyperband --epochs 27
    keras-recipes tune --space '{"activation": ["relu", "selu"], "dropout": 0.0}'
    keras-recipes tune --log-dir runs/my-search      # again: resumes it
    keras-recipes tune --smoke                       # seconds, for the tests
    python recipes/tune_mlp.py ...                   # the same, from a checkout

Distributed (KerasTuner's chief/worker mode; all share one --log-dir):
    keras-recipes tune --log-dir /shared/s --tuner-id chief \\
        --oracle-ip 10.0.0.1 --oracle-port 8000
    keras-recipes tune --log-dir /shared/s --tuner-id tuner0 \\
        --oracle-ip 10.0.0.1 --oracle-port 8000     # one per worker: tuner1, ...
The flags set KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP and
KERASTUNER_ORACLE_PORT; set in the environment instead, they work the same.

Writes to --log-dir (default runs/tune-<time>): args.json (a worker:
args-<tuner id>.json), search/ (KerasTuner's project: trial_*/ with each
trial's best weights, their digest and record.json, summary.md, summary.csv,
best_hyperparameters.json, best_model.keras), tensorboard/ (one run per
trial), metrics.json, search.png (the objective per trial, and against the
learning rate by optimizer).
"""

import json
import os

# Constants only: `tune --help` imports neither Keras nor KerasTuner.
from keras_recipes._internal.names import KERASTUNER_ENVIRONMENT as ENVIRONMENT
from keras_recipes._internal.names import SEARCH_ALGORITHMS as ALGORITHMS
from keras_recipes.commands.common import (
    UsageError,
    add_dataset,
    add_log_dir,
    add_seed,
    int_at_least,
    load_data,
    main_of,
    new_parser,
    positive_float,
    positive_int,
)
from keras_recipes.plots import plot_search
from keras_recipes.runs import start_run

SMOKE_SPACE = {
    "hidden_layers": [1],
    "units": [32, 64],
    "activation": ["relu", "selu"],
    "optimizer": ["adam", "nadam"],
    "learning_rate": [1e-3, 3e-3],
    "schedule": ["none", "one-cycle"],
    "batch_size": [64],
}
# How the distributed-role errors call each value: the flag first.
_LABELS = {name: f"--{name.replace('_', '-')}" for name in ENVIRONMENT}


def build_parser(parser=None):
    """Fills `parser` (or a new one) with the flags of `tune`."""
    parser = new_parser(parser, __doc__)
    add_dataset(parser)
    parser.add_argument(
        "--algorithm", choices=ALGORITHMS, default="random", help="the search"
    )
    parser.add_argument(
        "--max-trials",
        type=positive_int,
        default=20,
        help="trials of random, bayesian and grid search",
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        default=20,
        help="epochs per trial (hyperband: the most epochs of a trial)",
    )
    parser.add_argument(
        "--factor",
        type=int_at_least(2),
        default=3,
        help="hyperband's reduction factor",
    )
    parser.add_argument(
        "--patience",
        type=positive_int,
        default=5,
        help="early stopping per trial",
    )
    parser.add_argument(
        "--objective", default="val_accuracy", help="the metric to optimize"
    )
    parser.add_argument(
        "--space",
        type=_json_object,
        default=None,
        help="JSON narrowing the search space: {name: [choices] | "
        '{"range": [low, high]} | value}; names: hidden_layers, units, '
        "activation, batch_norm, dropout, l2, optimizer, learning_rate, "
        "schedule, batch_size (default: the full space)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="start over; without it a search in --log-dir resumes",
    )
    add_log_dir(parser, "tune")
    add_seed(parser, help="seed of the data split and the oracle")
    parser.add_argument(
        "--tuner-id",
        default=None,
        help="distributed: 'chief', or tuner0, tuner1, ... for workers "
        "(default: $KERASTUNER_TUNER_ID)",
    )
    parser.add_argument(
        "--oracle-ip",
        default=None,
        help="distributed: the chief's address (default: $KERASTUNER_ORACLE_IP)",
    )
    parser.add_argument(
        "--oracle-port",
        type=positive_int,
        default=None,
        help="distributed: the chief's port (default: $KERASTUNER_ORACLE_PORT)",
    )
    parser.add_argument(
        "--trial-timeout",
        type=positive_float,
        default=None,
        help="chief: seconds without a sign of life from a worker's trial "
        "before it is failed (default auto: 3x the median trial time, at "
        "least 60 s; 30 min until a trial has finished)",
    )
    parser.add_argument(
        "--verbose", type=int, choices=(0, 1, 2), default=0, help="fit verbosity"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a seconds-long search (4 trials of 2 epochs in a small space)",
    )
    return parser


def run(args):
    """Runs the search with parsed arguments; returns the exit status."""
    from keras_recipes.tuning import search
    from keras_recipes.tuning.distributed import (
        check_overwrite,
        distributed_role,
        kerastuner_environment,
    )
    from keras_recipes.tuning.hypermodel import resolve_space

    if args.smoke:
        args.max_trials, args.epochs, args.patience = 4, 2, 2
        if args.space is None:
            args.space = SMOKE_SPACE
    # The library's checks, before anything is written.
    try:
        role = distributed_role(
            args.tuner_id, args.oracle_ip, args.oracle_port, labels=_LABELS
        )
        check_overwrite(role, args.overwrite)
    except ValueError as error:
        raise UsageError(str(error)) from None
    for name, variable in ENVIRONMENT.items():  # Recorded in args.json.
        if getattr(args, name) is None:
            setattr(args, name, os.environ.get(variable))
    if role != "single" and args.log_dir is None:
        raise UsageError(
            "distributed search needs --log-dir, a folder all processes share"
        )
    space = _space(args.space)
    try:
        resolve_space(space)
    except (TypeError, ValueError) as error:
        raise UsageError(f"--space: {error}") from None
    args_file = "args.json" if role != "worker" else f"args-{args.tuner_id}.json"
    data = load_data(args)  # Checked before the run folder is made.
    with kerastuner_environment(args.tuner_id, args.oracle_ip, args.oracle_port):
        log_dir = start_run(args, "tune", args_file=args_file)
        print(
            f"tune: {args.algorithm} search on {args.dataset} "
            f"({len(data.x_train)} train / {len(data.x_val)} validation), "
            f"{role}{' ' + args.tuner_id if role != 'single' else ''}"
        )
        result = search(
            data.x_train,
            data.y_train,
            validation_data=(data.x_val, data.y_val),
            space=space,
            algorithm=args.algorithm,
            objective=args.objective,
            max_trials=args.max_trials,
            epochs=args.epochs,
            factor=args.factor,
            patience=args.patience,
            directory=log_dir,
            project_name="search",
            overwrite=args.overwrite,
            seed=args.seed,
            log_dir=log_dir / "tensorboard",
            verbose=args.verbose,
            trial_timeout=args.trial_timeout or "auto",
        )
    if result is None:
        print(f"worker {args.tuner_id} done; the chief writes the summary")
        return 0

    import keras

    print(result.table(max_rows=10))
    completed = sum(row["status"] == "COMPLETED" for row in result.trials)
    print(f"{completed}/{len(result.trials)} trials completed")
    metrics = {
        "trials": len(result.trials),
        "completed": completed,
        "best_score": (
            result.trials[0]["score"] if result.best_hyperparameters else None
        ),
        "objective": result.objective,
        "best_hyperparameters": result.best_hyperparameters,
    }
    if result.best_model_path is not None:
        best = keras.models.load_model(result.best_model_path)
        _, test_accuracy = best.evaluate(data.x_test, data.y_test, verbose=0)
        metrics["test_accuracy"] = float(test_accuracy)
        print(f"best hyperparameters: {json.dumps(result.best_hyperparameters)}")
        print(f"test accuracy: {test_accuracy:.4f}")
    (log_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    plot_search(
        result.trials, result.objective, log_dir / "search.png", result.direction
    )
    print(f"run folder: {log_dir} (best model: {result.best_model_path})")
    print(f"TensorBoard: tensorboard --logdir {result.log_dir}")
    return 0


def main(argv=None):
    """`keras-recipes tune` / `python recipes/tune_mlp.py`; the exit status."""
    return main_of(build_parser, run, argv)


def _json_object(text):
    import argparse

    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(
            f"not JSON ({error}). Received: {text!r}"
        ) from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object. Received: {text!r}")
    return value


def _space(space):
    """JSON's space: `{"range": [low, high]}` becomes the `(low, high)` tuple."""
    if space is None:
        return None
    resolved = {}
    for name, spec in space.items():
        if isinstance(spec, dict):
            if set(spec) != {"range"} or len(spec["range"]) != 2:
                raise UsageError(
                    f'--space: {name} takes {{"range": [low, high]}}. Received: {spec}'
                )
            spec = tuple(spec["range"])
        resolved[name] = spec
    return resolved
