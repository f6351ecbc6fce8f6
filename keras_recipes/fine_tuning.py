"""`fine_tune`: transfer learning in two stages, the fastai way, in Keras.

1. **Head.** The base model is cut below its old head (at `features_layer`,
   default the input of its last layer), frozen, and a new softmax head is
   put on it. The LR range test picks the head's rate and 1cycle trains it.
2. **Whole model.** The base is unfrozen (all of it, or its last
   `unfreeze` layers with weights) and trained again with 1cycle at a lower
   peak, with **discriminative learning rates**: a `DiscriminativeOptimizer`
   gives the base's layers multipliers spaced geometrically from
   `lowest_multiplier` (its first layer) to 1 (the head).

The base's batch normalization layers stay frozen in both stages, so in
inference mode: their moving statistics (and scale and offset) are the
pretrained ones. Keras's transfer-learning guide calls the base with
`training=False` for this, but in Keras 3 that holds only while the base is
frozen: once it is trainable, `fit`'s `training=True` reaches its layers
(keras-team/keras#20285) and the statistics drift; a `BatchNormalization`
with `trainable=False` normalizes with its moving statistics whatever
`training` says. The base is still called with `training=False` (its own
dropout and augmentation stay off); augmentation for the new data goes in
front of the base (`augment=`).

Each stage keeps its best checkpoint (`BestCheckpoint`), stops early
(`EarlyStopping`, restoring its best weights) and backs up its state every
epoch (`ResumableBackup`): run it again with the same `log_dir` after
a crash and a finished stage is not run again (its best weights are loaded,
its learning rate read back), an interrupted one continues from its last
epoch.

Example:

>>> result = fine_tune("pretrained.keras", x, y, validation_data=(x_val, y_val),
...                    num_classes=5, log_dir="runs/fine-tune")
>>> result.model.evaluate(x_test, y_test)
"""

import math
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from keras_recipes._internal.atomic import StateFileError, read_json, write_json
from keras_recipes._internal.validation import (
    check_choice,
    check_int,
    check_number,
    check_path,
    check_samples,
    check_validation_data,
)
from keras_recipes.batches import ShuffledBatches
from keras_recipes.callbacks import (
    BestCheckpoint,
    EarlyStopping,
    OneCycle,
    ResumableBackup,
    best_checkpoint_path,
)
from keras_recipes.lr_finder.find import find_learning_rate
from keras_recipes.models.augment import augmentation_layers
from keras_recipes.models.transfer import (
    layers_with_weights,
    load_base,
    with_new_head,
)
from keras_recipes.optimizers import DiscriminativeOptimizer, make_optimizer

STAGES = ("head", "fine_tune")


@dataclass
class FineTuneResult:
    """What `fine_tune` did.

    Attributes:
        model: The fine-tuned model (the best epoch of the last stage).
        histories: Each stage's epoch logs by name (`"head"`, `"fine_tune"`),
            as `History.history`; a stage finished before a restart has its
            own from `history.json`.
        learning_rates: Each stage's peak learning rate.
        multipliers: The rate multiplier of each base layer with weights in
            the second stage (its name to the multiplier).
        best_paths: Each stage's best checkpoint.
        schedules: Each stage's `(learning_rates, momenta)`, one value per
            optimizer step it ran (1cycle's, the momentum is Adam's beta_1).
    """

    model: object
    histories: dict = field(default_factory=dict)
    schedules: dict = field(default_factory=dict)
    learning_rates: dict = field(default_factory=dict)
    multipliers: dict = field(default_factory=dict)
    best_paths: dict = field(default_factory=dict)


def fine_tune(
    base,
    x,
    y,
    *,
    validation_data,
    num_classes,
    features_layer=None,
    head_epochs=3,
    epochs=10,
    learning_rate=None,
    suggestion="minimum",
    fine_tune_learning_rate=None,
    lowest_multiplier=0.01,
    unfreeze=None,
    augment=False,
    head_dropout=0.0,
    weight_decay=None,
    clipnorm=None,
    global_clipnorm=None,
    batch_size=32,
    monitor="val_accuracy",
    patience=5,
    log_dir="runs/fine-tune",
    seed=0,
    verbose=1,
):
    """Fine-tunes `base` on `(x, y)`: a new head first, then all of it.

    Args:
        base: A `keras.Model`, a `.keras` file, or `"applications:NAME"`
            (see `keras_recipes.models.transfer.load_base`).
        x, y: Training arrays; `y` holds class ids 0..num_classes-1.
        validation_data: `(x_val, y_val)`.
        num_classes: Classes of the new head.
        features_layer: Name of the base's layer whose output feeds the head
            (default: the input of the base's last layer, i.e. below its old
            head; for a base without a head, e.g. `applications:`, its output).
        head_epochs: Epochs of the first stage (the head alone).
        epochs: Epochs of the second stage (0: the head only).
        learning_rate: The head's peak rate (default: the LR finder's
            `suggestion`).
        suggestion: The finder's suggestion for the head: `"minimum"` (a
            tenth of the loss minimum's rate, what `keras-recipes train` uses
            for 1cycle), `"valley"`, `"steep"` or `"slide"`.
        fine_tune_learning_rate: The second stage's peak rate for the head
            (default: the head's rate / 10).
        lowest_multiplier: The multiplier of the base's first layer in the
            second stage, in (0, 1]; 1 gives every layer the same rate.
        unfreeze: How many of the base's last layers with weights (batch
            norm aside, which stays frozen) the second stage trains: `None`
            (all), a count, or a list of increasing counts (`None` last for
            all) for gradual unfreezing, a stage of `epochs` epochs each
            (`fine_tune/`, `fine_tune_2/`, ...).
        augment: Augmentation in front of the base (`build_cnn`'s `augment`).
        head_dropout: Dropout before the new head, in [0, 1).
        weight_decay, clipnorm, global_clipnorm: Both stages' regularization
            (`keras_recipes.optimizers.make_optimizer`: AdamW with a decay).
        batch_size: Batch size of both stages.
        monitor: The metric of the checkpoints and early stopping.
        patience: Early stopping's patience in each stage.
        log_dir: The run folder: `head/` and `fine_tune/`, each with `best/`,
            `backup/` while it runs, `history.json` and `state.json`.
        seed: Seed of the batches' order and the head's initialization.
        verbose: Fit verbosity (and 1 prints each stage's start).

    Returns:
        A `FineTuneResult`.
    """
    check_samples("x", x, "y", y)
    check_validation_data(validation_data)
    num_classes = check_int("num_classes", num_classes, low=2, high=1_000_000)
    head_epochs = check_int("head_epochs", head_epochs, low=1, high=10_000)
    epochs = check_int("epochs", epochs, low=0, high=10_000)
    rates = {"learning_rate": learning_rate, "fine_tune_learning_rate":
             fine_tune_learning_rate}  # fmt: skip
    for name, value in rates.items():
        if value is not None:
            check_number(name, value, low=0, low_open=True)
    check_choice("suggestion", suggestion, ("minimum", "valley", "steep", "slide"))
    check_number("lowest_multiplier", lowest_multiplier, low=0, high=1, low_open=True)
    stages = _check_unfreeze(unfreeze)
    check_number("head_dropout", head_dropout, low=0, high=1, high_open=True)
    batch_size = check_int("batch_size", batch_size, low=1, high=1 << 16)
    patience = check_int("patience", patience, low=1)
    seed = check_int("seed", seed, low=0, high=2**32 - 1)
    check_choice("verbose", verbose, (0, 1, 2))
    log_dir = Path(check_path("log_dir", log_dir))
    regularization = {"weight_decay": weight_decay, "clipnorm": clipnorm,
                      "global_clipnorm": global_clipnorm}  # fmt: skip
    make_optimizer("adam", 1e-3, **regularization)  # Checks them.
    if augment is not False:
        augmentation_layers(augment)  # Checks it.
    if not isinstance(monitor, str):
        raise TypeError(
            f"`monitor` must be a metric name such as 'val_accuracy'. Received: "
            f"monitor={monitor!r}"
        )
    say = print if verbose else (lambda *a, **k: None)

    base = load_base(base)
    keras.utils.set_random_seed(seed)  # The head's initialization.
    model, extractor = with_new_head(
        base, num_classes, features_layer=features_layer, augment=augment,
        head_dropout=head_dropout,
    )  # fmt: skip
    y = np.asarray(y)
    labels = np.unique(y)
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"`y` must hold class ids 0..{num_classes - 1} (`num_classes`). "
            f"Received: labels {labels[:6].tolist()}"
        )
    result = FineTuneResult(model)
    batches = ShuffledBatches(x, y, batch_size, seed)

    # Stage 1: the head alone.
    extractor.trainable = False
    model.compile(
        optimizer=make_optimizer("adam", 1e-3, **regularization),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    state = _stage_state(log_dir / "head")
    if state.get("learning_rate") is None:
        if learning_rate is None:
            say(f"fine_tune [1/{len(stages) + 1}] head: LR range test")
            finder = find_learning_rate(model, x, y, batch_size=batch_size, verbose=0)
            learning_rate = finder.suggestions.get(suggestion) or 1e-3
        state = {"learning_rate": float(learning_rate), "done": False}
        write_json(log_dir / "head" / "state.json", state)
    result.learning_rates["head"] = state["learning_rate"]
    peak = state["learning_rate"]
    say(
        f"fine_tune [1/{len(stages) + 1}] head: {head_epochs} epochs at peak {peak:.3g}"
    )
    _run_stage(model, batches, validation_data, log_dir / "head", state,
               head_epochs, monitor, patience, verbose, result, "head")  # fmt: skip

    if epochs == 0:
        return result
    # Stage 2 (one or more): unfrozen, discriminative rates.
    extractor.trainable = True
    # Batch norm stays frozen, so in inference mode: in Keras 3 the
    # `training=False` of the base's call does not hold once the base is
    # trainable (fit's training=True reaches its layers; keras-team/keras
    # #20285), but a BatchNormalization with trainable=False normalizes with
    # its moving statistics and does not update them.
    for layer in layers_with_weights(extractor):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    weighted = [layer for layer in layers_with_weights(extractor) if layer.trainable]
    # By depth, geometric from lowest_multiplier (the base's first layer)
    # towards 1, which the head takes: a layer keeps its multiplier in every
    # stage that trains it.
    multipliers = {
        layer.name: float(lowest_multiplier ** (1 - i / len(weighted)))
        for i, layer in enumerate(weighted)
    }
    rate = fine_tune_learning_rate or result.learning_rates["head"] / 10
    for index, count in enumerate(stages):
        name = "fine_tune" if index == 0 else f"fine_tune_{index + 1}"
        trained = weighted[-count:] if count else weighted
        for layer in weighted:
            layer.trainable = layer in trained
        result.multipliers = {layer.name: multipliers[layer.name] for layer in trained}
        model.compile(
            optimizer=DiscriminativeOptimizer(
                make_optimizer("adam", rate, **regularization),
                [(layer, multipliers[layer.name]) for layer in trained],
            ),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        state = _stage_state(log_dir / name)
        if state.get("learning_rate") is None:
            state = {"learning_rate": float(rate), "done": False}
            write_json(log_dir / name / "state.json", state)
        result.learning_rates[name] = state["learning_rate"]
        low = min(result.multipliers.values())
        say(
            f"fine_tune [{index + 2}/{len(stages) + 1}] {len(trained)} of "
            f"{len(weighted)} base layers: {epochs} epochs at peak "
            f"{state['learning_rate']:.3g}, multipliers x{low:.3g} to x1"
        )
        _run_stage(model, batches, validation_data, log_dir / name, state,
                   epochs, monitor, patience, verbose, result, name)  # fmt: skip
    return result


def _check_unfreeze(unfreeze):
    """The second stage's layer counts, one per stage (`None`: all)."""
    counts = list(unfreeze) if isinstance(unfreeze, (list, tuple)) else [unfreeze]
    if not counts:
        raise ValueError("`unfreeze` must hold at least one stage. Received: []")
    for position, count in enumerate(counts):
        if count is None and position != len(counts) - 1:
            raise ValueError(
                "`unfreeze`: None (all layers) can only be the last stage. "
                f"Received: unfreeze={unfreeze!r}"
            )
        if count is not None:
            check_int("unfreeze", count, low=1)
    numbers = [c for c in counts if c is not None]
    if numbers != sorted(set(numbers)):
        raise ValueError(
            "`unfreeze` stages must unfreeze more layers each time (increasing "
            f"counts). Received: unfreeze={unfreeze!r}"
        )
    return counts


def _stage_state(folder):
    state = read_json(folder / "state.json", fix=f"Delete {folder} to run it again.")
    if state is None:
        return {}
    rate = state.get("learning_rate") if isinstance(state, dict) else None
    if not isinstance(rate, (int, float)) or not math.isfinite(rate) or rate <= 0:
        raise StateFileError(
            f"{folder / 'state.json'} must hold a positive learning_rate. "
            f"Received: {state!r:.200}. Delete {folder} to run the stage again."
        )
    return state


def _run_stage(model, batches, validation_data, folder, state, epochs, monitor,
               patience, verbose, result, name):  # fmt: skip
    checkpoint = BestCheckpoint(folder / "best" / "model.keras", monitor=monitor)
    if state.get("done"):
        best = best_checkpoint_path(folder / "best")  # Size and SHA-256 checked.
        if best is None:
            raise StateFileError(
                f"{folder} is a finished stage without a best checkpoint. Delete "
                f"{folder} to run the stage again."
            )
        model.set_weights(keras.models.load_model(best, compile=False).get_weights())
        result.histories[name] = read_json(folder / "history.json") or {}
        result.best_paths[name] = Path(best)
        _record_schedule(result, name, state, epochs, len(batches))
        return
    stopper = EarlyStopping(monitor, patience=patience, restore_best_weights=True)
    schedule = OneCycle(state["learning_rate"])
    history = model.fit(
        batches,
        validation_data=tuple(validation_data),
        epochs=epochs,
        shuffle=False,
        verbose=verbose,
        callbacks=[
            schedule,
            batches.follow_epochs(),
            stopper,
            checkpoint,
            ResumableBackup(
                folder / "backup",
                callbacks={"stopper": stopper, "checkpoint": checkpoint},
            ),
        ],
    )
    logs = {k: [float(v) for v in values] for k, values in history.history.items()}
    write_json(folder / "history.json", logs)
    write_json(folder / "state.json", {**state, "done": True})
    result.histories[name] = logs
    result.best_paths[name] = Path(checkpoint.best_path)
    _record_schedule(result, name, state, epochs, len(batches))


def _record_schedule(result, name, state, epochs, steps_per_epoch):
    """The stage's 1cycle, at each step of the epochs it ran."""
    from keras_recipes.schedules import evaluate

    curves = OneCycle(state["learning_rate"]).schedule_for(epochs, steps_per_epoch)
    steps = np.arange(len(result.histories[name].get("loss", [])) * steps_per_epoch)
    momenta = None if curves.momentum is None else evaluate(curves.momentum, steps)
    result.schedules[name] = (evaluate(curves.learning_rate, steps), momenta)
