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
"""

import weakref

# model -> [train function to put back (or None), number of holders]
_SAVED = weakref.WeakKeyDictionary()


def hold_train_step(model):
    """Rebuilds the train function after a change lasting until the release."""
    entry = _SAVED.get(model)
    if entry is None:
        _SAVED[model] = [model.train_function, 1]
    else:
        entry[1] += 1
    model.make_train_function(force=True)


def release_train_step(model):
    """Undoes a hold: the last one puts back the function saved at the first."""
    entry = _SAVED.get(model)
    if entry is None:  # Not held: rebuild, to be safe.
        model.make_train_function(force=True)
        return
    entry[1] -= 1
    if entry[1] > 0:
        model.make_train_function(force=True)
        return
    del _SAVED[model]
    if entry[0] is None:
        model.make_train_function(force=True)
    else:
        model.train_function = entry[0]


def rebuild_train_step(model):
    """Rebuilds the train function after a change that outlives the fit."""
    entry = _SAVED.get(model)
    if entry is not None:
        entry[0] = None
    model.make_train_function(force=True)
