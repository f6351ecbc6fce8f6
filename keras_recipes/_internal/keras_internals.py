"""The one module that touches Keras's and KerasTuner's private attributes.

Everything else in the package goes through these functions, so a Keras or
KerasTuner release that renames one of them breaks here, in one place, and
`tests/test_keras_internals.py` says which internal changed and under which
installed version. Each touch says why the public API does not do the job.

Keras (checked on 3.6 to 3.15):

* `optimizer._learning_rate`: what the optimizer evaluates as its learning
  rate (a `keras.Variable` for a float, or a `LearningRateSchedule`). The
  public setter `optimizer.learning_rate = x` untracks the variable and
  changes the optimizer's variable list, and refuses anything once a schedule
  is set; the scheduling callbacks must swap what the step evaluates without
  changing the variables (weights files and JAX state keep their structure).
* `metric._direction`: `"up"` or `"down"`, what Keras's own
  `MonitorCallback` reads to resolve `mode="auto"` (no public name).
* `model._initial_epoch`: the epoch `fit` starts from when set before it
  begins (the hook Keras's own `BackupAndRestore` uses).

KerasTuner (checked on 1.4.7 and 1.4.8):

* `Tuner._configure_tensorboard_dir(callbacks, trial, execution)`: the hook
  that gives each trial's `TensorBoard` callback its own folder and hparams
  session. KerasTuner fills it on the TensorFlow backend only;
  `TensorBoardHook` replaces it with a public method of ours.
* `keras_tuner.src.engine.tuner_utils.convert_hyperparams_to_hparams`: the
  conversion of hyperparameters to TensorBoard `HParam`s that KerasTuner uses
  for its own hparams sessions (no public name).
"""

# ----------------------------------------------------------------- Keras


def learning_rate_slot(optimizer):
    """What `optimizer` evaluates as its learning rate: a `keras.Variable`
    (compiled with a float), a `LearningRateSchedule`, or whatever
    `set_learning_rate_slot` put there."""
    return optimizer._learning_rate


def set_learning_rate_slot(optimizer, value):
    """Makes the optimizer's train step evaluate `value` as its learning rate,
    leaving its variables as they are (see the module docstring)."""
    optimizer._learning_rate = value


def metric_direction(metric):
    """`"up"`, `"down"` or `None`: which way `metric` improves, as Keras's
    own callbacks read it for `mode="auto"`."""
    return getattr(metric, "_direction", None)


def set_initial_epoch(model, epoch):
    """Makes the next `model.fit` start at `epoch` (`None`: at its own
    `initial_epoch`), as Keras's `BackupAndRestore` does."""
    model._initial_epoch = epoch


# ----------------------------------------------------------------- KerasTuner


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

    class _Space:
        # What the conversion reads: `.space`, and `.get(name)` (the value,
        # which a domain does not need; KerasTuner skips inactive names).
        space = list(hyperparameters.space)

        @staticmethod
        def get(name):
            return None

    return list(hparams_of(_Space, hparams_api))
