"""The fence: the one package that touches Keras's and KerasTuner's internals.

Everything else in keras_recipes goes through the functions it exports, so a
Keras or KerasTuner release that renames an internal breaks here, in one
place, and `tests/test_keras_internals.py` says which internal changed and
under which installed version. Each module lists the internals it touches
and why the public API does not do the job:

* `training`: Keras's optimizer, train function and fit (checked on Keras
  3.8 and 3.15, the oldest declared and the newest; docs/architecture.md
  lists each touch with its promise and its fallback);
* `tuner`: KerasTuner's state writes, trial hooks and chief (KerasTuner
  1.4.7 and 1.4.8).
"""

from keras_recipes._internal.keras_internals.training import (
    learning_rate_slot,
    live_reader,
    make_fresh_train_function,
    metric_direction,
    set_initial_epoch,
    set_learning_rate_slot,
    unwatch_next_fit,
    watch_next_fit,
)
from keras_recipes._internal.keras_internals.tuner import (
    TensorBoardHook,
    build_and_fit,
    checkpoint_digest,
    hparam_domains,
    hparams_of,
    load_trial_model,
    make_state_safe,
    save_tuner_state,
    serve_oracle,
    trial_checkpoint,
)

__all__ = [
    "TensorBoardHook",
    "build_and_fit",
    "checkpoint_digest",
    "hparam_domains",
    "hparams_of",
    "learning_rate_slot",
    "live_reader",
    "load_trial_model",
    "make_fresh_train_function",
    "make_state_safe",
    "metric_direction",
    "save_tuner_state",
    "serve_oracle",
    "set_initial_epoch",
    "set_learning_rate_slot",
    "trial_checkpoint",
    "unwatch_next_fit",
    "watch_next_fit",
]
