"""Which optimizers a scheduling callback drives: the one that applies the
update under a wrapper, its updates per epoch, and the check that each
driven optimizer applies updates (a model whose own `train_step` steps other
optimizers than `model.optimizer` would otherwise be silently unscheduled).
"""

import keras
from keras import ops


def applying_optimizer(optimizer):
    """The optimizer that applies the update to the weights.

    Under the `mixed_float16` policy `compile` wraps the optimizer in a
    `keras.optimizers.LossScaleOptimizer` (a user may also wrap one): the
    wrapper scales the loss and skips the steps whose gradients are not
    finite, and its `inner_optimizer` applies the update with its own
    learning rate, momentum and `iterations`. The wrapper's own learning-rate
    slot (compiled to 0.0) never reaches the update. Every function of this
    module takes either, and works on the inner one.

    Raises:
        ValueError: For a `keras.optimizers.MultiOptimizer`: its variables
            follow several optimizers, each with its own learning rate.
    """
    multi_optimizer = getattr(keras.optimizers, "MultiOptimizer", None)
    if multi_optimizer is not None and isinstance(optimizer, multi_optimizer):
        raise ValueError(
            "Cannot drive the learning rate of a MultiOptimizer: its "
            "variables follow several optimizers. Give each sub-optimizer its "
            "own `keras.optimizers.schedules.LearningRateSchedule`, or compile "
            "with a single optimizer."
        )
    # A LossScaleOptimizer, a DiscriminativeOptimizer (whose update is the
    # inner one's, scaled per variable), or both: the innermost applies it.
    while isinstance(
        getattr(optimizer, "inner_optimizer", None), keras.optimizers.Optimizer
    ):
        optimizer = optimizer.inner_optimizer
    return optimizer


def accumulation_steps(optimizer):
    """Batches per applied update: `gradient_accumulation_steps`, or 1."""
    optimizer = applying_optimizer(optimizer)
    return getattr(optimizer, "gradient_accumulation_steps", None) or 1


def updates_per_epoch(optimizer, steps_per_epoch, who):
    """The optimizer's applied updates in an epoch of `steps_per_epoch` batches.

    With `gradient_accumulation_steps=k` Keras applies one update every k
    batches and counts `iterations` in updates (the accumulation goes on
    across epochs), so a schedule of the fit's updates needs whole updates
    per epoch.

    Raises:
        ValueError: If `steps_per_epoch` is not a multiple of k (`who` names
            the callback in the message).
    """
    steps = accumulation_steps(optimizer)
    if steps_per_epoch % steps:
        raise ValueError(
            f"{who} schedules the optimizer's applied updates, and with "
            f"gradient_accumulation_steps={steps} an epoch of {steps_per_epoch} "
            "batches does not hold a whole number of updates. Pass "
            f"`steps_per_epoch` (to `fit` or to the callback) that is a multiple "
            f"of {steps}, or pick a batch size that gives one."
        )
    return steps_per_epoch // steps


def check_optimizers(optimizers):
    """The `optimizers` argument of the scheduling callbacks, checked: `None`
    (the model's `optimizer`), or a list of optimizers and names of the
    model's attributes that hold one.

    Raises:
        TypeError: For anything else, naming what was received.
    """
    if optimizers is None:
        return None
    items = list(optimizers) if isinstance(optimizers, (list, tuple)) else [optimizers]
    wrong = [
        item
        for item in items
        if not isinstance(item, (str, keras.optimizers.Optimizer))
        or (isinstance(item, str) and not item.isidentifier())
    ]
    if not items or wrong:
        raise TypeError(
            "`optimizers` must be an optimizer, the name of the model's "
            "attribute that holds one (e.g. 'g_optimizer'), or a non-empty list "
            f"of these. Received: optimizers={optimizers!r}"
        )
    return items


def driven_optimizers(model, optimizers):
    """The optimizers a scheduling callback drives on `model` (see
    `check_optimizers`): `[model.optimizer]` by default.

    Raises:
        ValueError: For a name the model has no optimizer under, or an
            optimizer named twice.
    """
    if optimizers is None:
        return [model.optimizer]
    found = []
    for item in optimizers:
        optimizer = getattr(model, item, None) if isinstance(item, str) else item
        if not isinstance(optimizer, keras.optimizers.Optimizer):
            raise ValueError(
                f"The model has no optimizer in its attribute `{item}` (it holds "
                f"{type(optimizer).__name__}). Received: optimizers={optimizers!r}"
            )
        if any(optimizer is other for other in found):
            raise ValueError(
                f"`optimizers` names the same optimizer twice. Received: "
                f"optimizers={optimizers!r}"
            )
        found.append(optimizer)
    return found


def applied_updates(optimizer):
    """The updates `optimizer` has applied (its applying optimizer's
    `iterations`, see `applying_optimizer`)."""
    return int(ops.convert_to_numpy(applying_optimizer(optimizer).iterations))


def refuse_idle_optimizer(who, optimizer, epoch):
    """Raises `ValueError`: `optimizer`, driven by `who`, applied no update
    in the 0-based `epoch`."""
    raise ValueError(
        f"{who} drives {type(applying_optimizer(optimizer)).__name__} "
        f"('{optimizer.name}'), which applied no update in epoch {epoch + 1}: "
        "the model's `train_step` updates its weights with other optimizers "
        "(a GAN's, say), or every step was skipped (non-finite gradients under "
        "mixed precision). Name the optimizers that apply the updates in "
        "`optimizers` (e.g. optimizers=['d_optimizer', 'g_optimizer'])."
    )
