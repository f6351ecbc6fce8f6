"""The fence's Keras training internals (checked on Keras 3.8 and 3.15 by CI).

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
* The JAX trainer's `make_train_function` jits `self.train_step`, and JAX
  caches compiled steps by the function's equality (a model's bound methods
  are equal): while the function built before is alive (`train_step.py`
  keeps it) a rebuilt one runs the old trace, and a change read from Python
  (a scheduled rate) is silently ignored (Keras 3.15.1, JAX 0.10.2).
  `make_fresh_train_function` builds over a function of its own, shadowing
  `train_step` in the model's `__dict__` for the build only. Its step takes
  `next(iterator)` as the batch, and `jit` bakes any array that is not an
  input in as a constant: `make_fresh_train_function(model, step_inputs)`
  passes our arrays (the schedule tables) in beside each batch, through an
  iterator of `(batch, values)` that the step takes apart. Neither has a
  public way.
* The JAX trainer's `_jax_state` / `_jax_state_synced`: mid-epoch the fit's
  state is in that dict, not in the variables. `Callback.model` syncs it all
  back (`jax_state_sync`), and the next step gathers it again: ~1.4 ms a
  step on a small MLP, 8 ms on a 102-variable one. `live_reader` reads the
  few arrays a batch hook needs from the dict, as they are after the step.
* Keras's `fit` calls `self.make_train_function()` (no `force`) at its
  start, before `on_train_begin`, on the three backends; a fit that raises
  calls no callback (TensorFlow's and PyTorch's `fit` have no `finally`).
  `watch_next_fit` shadows that method on the instance to undo, at the next
  fit, what a fit that raised left in the model (a held train step).
"""

import functools

import keras


def learning_rate_slot(optimizer):
    """What `optimizer` evaluates as its learning rate: a `keras.Variable`
    (compiled with a float), a `LearningRateSchedule`, or whatever
    `set_learning_rate_slot` put there.

    Raises:
        ValueError: On a Keras whose optimizers keep no `_learning_rate`
            (no public way to swap what the step evaluates): the message
            names the installed release.
    """
    try:
        return optimizer._learning_rate
    except AttributeError:
        raise ValueError(
            f"keras_recipes cannot schedule {type(optimizer).__name__} on Keras "
            f"{keras.version()}: its optimizers keep no `_learning_rate`. "
            "Install a Keras release the package declares and tests (3.8 to "
            "3.15), or pass a LearningRateSchedule to the optimizer yourself."
        ) from None


def set_learning_rate_slot(optimizer, value):
    """Makes the optimizer's train step evaluate `value` as its learning rate,
    leaving its variables as they are (see the module docstring)."""
    optimizer._learning_rate = value


def make_fresh_train_function(model, step_inputs=None):
    """`model.make_train_function(force=True)`, traced anew on JAX (see the
    module docstring).

    `step_inputs` (JAX; ignored elsewhere, where the step reads variables
    when it runs): an object whose `values()` (a tree of arrays) go into the
    compiled step at every call, and whose `receive(values)`, a context
    manager, holds the step's own (traced) values while the step runs.
    """
    if keras.backend.backend() != "jax":
        model.make_train_function(force=True)
        return

    def train_step(state, data):
        if step_inputs is None:
            return type(model).train_step(model, state, data)
        data, values = data
        with step_inputs.receive(values):
            return type(model).train_step(model, state, data)

    model.__dict__["train_step"] = train_step
    try:
        model.make_train_function(force=True)
    finally:
        del model.__dict__["train_step"]
    if step_inputs is not None:
        model.train_function = functools.partial(
            _with_step_inputs, model.train_function, step_inputs
        )


def _with_step_inputs(train_function, step_inputs, state, iterator):
    # Keras's step takes `next(iterator)`; ours, `(batch, values)`.
    batches = ((batch, step_inputs.values()) for batch in iterator)
    return train_function(state, batches)


def live_reader(model, variables):
    """A function returning the values of `variables` (model, optimizer or
    metric variables) as the running fit has them, without a state sync on
    JAX (see the module docstring); in a batch hook, once a step ran. Each
    is an array or the variable itself: read it with
    `ops.convert_to_numpy`."""
    if keras.backend.backend() != "jax":
        return lambda: list(variables)
    groups = {
        "trainable_variables": model.trainable_variables,
        "non_trainable_variables": model.non_trainable_variables,
        "optimizer_variables": model.optimizer.variables,
        "metrics_variables": model.metrics_variables,
    }
    place = {id(v): (k, i) for k, group in groups.items() for i, v in enumerate(group)}
    places = [place[id(v)] for v in variables]

    def read():
        state = _jax_state(model)
        if state is _MISSING:
            # A trainer that keeps no `_jax_state` once a step ran (Keras
            # 3.8 to 3.15 set it at every step): the public sync, then the
            # variables; slower, never stale.
            sync = getattr(model, "jax_state_sync", None)
            if sync is not None:
                sync()
            return list(variables)
        if not state or getattr(model, "_jax_state_synced", True):
            return list(variables)
        return [state[key][index] for key, index in places]

    return read


_MISSING = object()


def _jax_state(model):
    return getattr(model, "_jax_state", _MISSING)


def watch_next_fit(model, hook):
    """Calls `hook()` when the next `fit` of `model` begins (before its
    callbacks' `on_train_begin`), until `unwatch_next_fit(model)`."""

    def make_train_function(force=False):
        if not force:
            hook()
        return type(model).make_train_function(model, force=force)

    model.__dict__["make_train_function"] = make_train_function


def unwatch_next_fit(model):
    model.__dict__.pop("make_train_function", None)  # The class's again.


def metric_direction(metric):
    """`"up"`, `"down"` or `None`: which way `metric` improves, as Keras's
    own callbacks read it for `mode="auto"`."""
    return getattr(metric, "_direction", None)


def set_initial_epoch(model, epoch):
    """Makes the next `model.fit` start at `epoch` (`None`: at its own
    `initial_epoch`), as Keras's `BackupAndRestore` does."""
    model._initial_epoch = epoch
