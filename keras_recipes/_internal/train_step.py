"""Changing what a model's compiled train step does, for one fit, at one trace.

Keras compiles `model.train_function` once and reuses it for every later
`fit` (TensorFlow's `tf.function` and JAX's `jit` trace it at its first call;
tracing a model of a few hundred variables takes seconds). A callback that
changes the step (a scheduled learning rate, an in-graph NaN check) must build
a new function, which traces at its first call: that trace is the price of
the change, paid once in the fit that asked for it.

What this module saves is the second trace: when the fit ends and the step
goes back to what it was, the function that was compiled before is put back
instead of building a new one, so the next plain `fit` traces nothing. Holds
nest (two callbacks of ours in one fit): the function is saved at the first
hold and put back at the last release. A change that outlives the fit
(`PerformanceScheduling` scaling a compiled schedule) calls
`rebuild_train_step`, which also forgets the saved function: it no longer
does what the model's step should do.

A hold may also name a `reuse_key`: a change whose step reads everything
that differs from one fit to the next at run time (the schedule tables of
`schedule_tables.py`: variables on TensorFlow, `step_inputs` passed into
the step on JAX, see `make_fresh_train_function`). The function built for
it is kept on the model at the release, with the function it was built over,
and a later hold with the same key over that same function (the model not
compiled again since) runs it instead of building one: no trace. Only a hold
that is alone for its whole length is kept (another change inside it would
be in the function).

A fit that raises calls no `on_train_end`, so its holds are never released:
the model would go on running the changed step (a plain fit after an
interrupted `OneCycle` fit followed the cycle). Each hold therefore gives an
`undo`, and the next `fit` of the model runs them before it begins (with a
warning), or `undo_holds(model)` at once.
"""

import contextlib
import dataclasses
import functools
import warnings

from keras_recipes._internal.keras_internals import (
    make_fresh_train_function,
    unwatch_next_fit,
    watch_next_fit,
)

# A held model's `Hold` and its kept functions live on the model itself (a
# dictionary weak in its models could not hold them, as each function holds
# its model: a model whose fit raised would live on), as plain attributes
# that Keras's tracking does not see.
_HELD = "_keras_recipes_held_train_step"
_KEPT = "_keras_recipes_kept_train_steps"


@dataclasses.dataclass
class Hold:
    """What a held model's holds share."""

    saved: object  # The train function to put back at the last release.
    holders: int  # The holds not yet released.
    key: object  # The reuse key of a hold alone, or None when nested.
    step_inputs: object  # Of the functions built while held (JAX).
    undos: list  # One per hold, run last first by `undo_holds`.


def hold_train_step(model, undo, reuse_key=None, step_inputs=None):
    """Rebuilds the train function after a change lasting until the release.

    `undo()` undoes the change and releases the hold, if the fit ends in an
    exception (see the module docstring). With `reuse_key`, a function kept
    for that key (see the module docstring) is put in instead of a new one.
    `step_inputs` go into the step at each call (JAX,
    `make_fresh_train_function`).
    """
    hold = model.__dict__.get(_HELD)
    if hold is not None:
        hold.holders += 1
        hold.key = None  # Nested: the function of the outer hold is not kept.
        hold.undos.append(undo)
        if step_inputs is not None:  # Each nested hold's inputs, together.
            hold.step_inputs = _joined(hold.step_inputs, step_inputs)
        make_fresh_train_function(model, hold.step_inputs)
        return
    saved = model.train_function
    key = reuse_key if saved is not None else None
    _own(model, _HELD, Hold(saved, 1, key, step_inputs, [undo]))
    watch_next_fit(model, functools.partial(undo_holds, model, abandoned=True))
    kept = _kept(model)
    if reuse_key is not None and kept.get("over") is saved and reuse_key in kept:
        model.train_function = kept[reuse_key]
        return
    make_fresh_train_function(model, step_inputs)


def release_train_step(model):
    """Undoes a hold: the last one puts back the function saved at the first."""
    hold = model.__dict__.get(_HELD)
    if hold is None:  # Not held: rebuild, to be safe.
        make_fresh_train_function(model)
        return
    hold.holders -= 1
    if hold.holders > 0:
        make_fresh_train_function(model, hold.step_inputs)
        return
    del model.__dict__[_HELD]
    unwatch_next_fit(model)
    saved, key = hold.saved, hold.key
    if key is not None:
        kept = _kept(model)
        if kept.get("over") is not saved:  # Compiled again: start over.
            kept.clear()
            kept["over"] = saved
        kept[key] = model.train_function
    if saved is None:
        model.make_train_function(force=True)
    else:
        model.train_function = saved


def undo_holds(model, abandoned=False):
    """Runs the undos of the model's holds, last first: every change of ours
    to its step is gone after (`abandoned`: found at the next fit's start,
    said in a warning)."""
    hold = model.__dict__.get(_HELD)
    if hold is None:
        return
    if abandoned:
        warnings.warn(
            "keras_recipes: the last fit of this model ended in an exception, "
            "before its scheduling callbacks or LR finder ended; what they "
            "changed (the optimizer's learning rate and momentum, the "
            "finder's sweep of the weights) is undone now, as at a normal end.",
            stacklevel=5,  # The `fit` call: past Keras and its traceback filter.
        )
    recompiled = model.train_function is None  # `compile` clears it.
    for undo in reversed(hold.undos):
        undo()
    while _HELD in model.__dict__:  # An undo that did not release its hold.
        release_train_step(model)
    if recompiled:  # What was saved belongs to the compile before.
        model.train_function = None
        _kept(model).clear()


def rebuild_train_step(model):
    """Rebuilds the train function after a change that outlives the fit."""
    hold = model.__dict__.get(_HELD)
    if hold is not None:
        hold.saved = None
        hold.key = None
    _kept(model).clear()
    make_fresh_train_function(model, hold.step_inputs if hold is not None else None)


class _JoinedInputs:
    """The step inputs of several holds as one (JAX, see
    `make_fresh_train_function`): a tuple of their values."""

    def __init__(self, parts):
        self.parts = parts

    def values(self):
        return tuple(part.values() for part in self.parts)

    @contextlib.contextmanager
    def receive(self, values):
        with contextlib.ExitStack() as stack:
            for part, value in zip(self.parts, values, strict=True):
                stack.enter_context(part.receive(value))
            yield


def _joined(first, second):
    if first is None:
        return second
    parts = first.parts if isinstance(first, _JoinedInputs) else [first]
    return _JoinedInputs([*parts, second])


def _kept(model):
    kept = model.__dict__.get(_KEPT)
    if kept is None:
        kept = {}
        _own(model, _KEPT, kept)
    return kept


def _own(model, name, value):
    # Not `setattr`: Keras would track the attribute (TensorFlow's tracking
    # would then see the functions as part of the model).
    object.__setattr__(model, name, value)
