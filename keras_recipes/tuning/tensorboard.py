"""TensorBoard HParams for searches: what KerasTuner writes only on TensorFlow.

KerasTuner 1.4 gives each trial its own TensorBoard folder and an hparams
session only when Keras runs on TensorFlow; on JAX and PyTorch every trial
logs into one folder and the HParams tab stays empty. These functions write
the same records on every backend, and the experiment summary (the domains of
the search space and the metrics, objective first) that KerasTuner never
writes, so the HParams tab lists the objective even before a trial ends.

TensorFlow is imported here only, inside the functions: it writes the events.
"""

from pathlib import Path

from keras_recipes._internal.keras_internals import hparam_domains, hparams_of

EXPERIMENT_FILE_PREFIX = "events.out.tfevents."


def trial_log_dir(log_dir, trial_id, execution=0):
    """The run folder of one execution of a trial (KerasTuner's layout)."""
    return Path(log_dir) / str(trial_id) / f"execution{execution}"


def objective_metric(name):
    """`(run group, scalar tag)` under which Keras's `TensorBoard` logs `name`.

    `"val_accuracy"` -> `("validation", "epoch_accuracy")`;
    `"loss"` -> `("train", "epoch_loss")`.
    """
    if name.startswith("val_"):
        return "validation", "epoch_" + name.removeprefix("val_")
    return "train", "epoch_" + name


def hparams_callback(log_dir, hyperparameters, trial_id):
    """A Keras callback that writes the trial's hparams session to `log_dir`.

    The same callback, with the same conversion of the hyperparameters, as
    KerasTuner adds on TensorFlow (`tensorboard.plugins.hparams.api.
    KerasCallback`): the session start (the trial's active hyperparameter
    values) at train begin, its end at train end.
    """
    from tensorboard.plugins.hparams import api as hparams_api

    return hparams_api.KerasCallback(
        writer=str(log_dir),
        hparams=hparams_of(hyperparameters, hparams_api),
        trial_id=str(trial_id),
    )


def write_experiment(log_dir, hyperparameters, objective, metrics):
    """Writes the HParams experiment summary at the root of `log_dir`.

    Args:
        log_dir: The search's TensorBoard folder (trials are sub-folders).
        hyperparameters: The search space, a `keras_tuner.HyperParameters`.
        objective: The objective's metric name (e.g. `"val_accuracy"`).
        metrics: Other metric names to list (e.g. `["loss", "val_loss"]`).

    Rewriting it (a resumed search) replaces the previous summary.
    """
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hparams_api

    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    for old in log_dir.glob(EXPERIMENT_FILE_PREFIX + "*"):
        old.unlink()
    hparams = [
        hparam
        for hparam in hparam_domains(hyperparameters, hparams_api)
        if not hparam.name.startswith("tuner/")
    ]
    names = [objective] + [m for m in metrics if m != objective]
    metric_infos = []
    for name in names:
        group, tag = objective_metric(name)
        metric_infos.append(
            hparams_api.Metric(tag, group=group, display_name=name.replace("_", " "))
        )
    writer = tf.summary.create_file_writer(str(log_dir))
    with writer.as_default():
        hparams_api.hparams_config(hparams=hparams, metrics=metric_infos)
    writer.close()
