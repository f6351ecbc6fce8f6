"""The steps of the diagnosis, each on a copy of the model.

0. `check_target_scale` (regressors only): targets far from unit scale;
1. `check_initial_loss`: the loss before training against its expected value
   (log C for a softmax over C classes, log 2 for a sigmoid; for a regressor,
   next to var(y)), and the output width against the labels;
2. `check_overfit`: can the model fit a few batches (near 100 % training
   accuracy, or a loss near 0)?
3. the LR range test (`keras_recipes.find_learning_rate`, run by the
   workflow);
4. `search_learning_rate_and_decay`: a short coarse search over learning rate
   and weight decay, then a refined one around the best;
5. learning curves with the best setting, judged by
   `keras_recipes.diagnose.verdict.learning_curve_verdict`.
"""

import math
from dataclasses import dataclass, field

import keras
import numpy as np

from keras_recipes._internal.driver import applying_optimizer
from keras_recipes.callbacks.early_stopping import EarlyStopping


@dataclass
class StepResult:
    """One step of the diagnosis: passed or not, what was measured, and why."""

    name: str
    ok: bool
    message: str
    details: dict = field(default_factory=dict)


def copy_model(model, learning_rate=None, weight_decay=None):
    """A fresh copy of a compiled model: same architecture, weights, loss and
    metrics, a new optimizer of the same class (optionally another learning
    rate / weight decay)."""
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    # Under mixed precision the LossScaleOptimizer's inner optimizer holds the
    # learning rate: that one is copied, and wrapped again.
    inner = applying_optimizer(model.optimizer)
    config = inner.get_config()
    if learning_rate is not None:
        config["learning_rate"] = float(learning_rate)
    if weight_decay is not None:
        config["weight_decay"] = float(weight_decay) or None
    optimizer = type(inner).from_config(config)
    if isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer):
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    compile_config = model.get_compile_config()
    clone.compile(
        optimizer=optimizer,
        loss=model.loss,
        metrics=keras.saving.deserialize_keras_object(compile_config.get("metrics")),
    )
    return clone


def train_copy(model, x, y, validation_data, *, epochs, batch_size, **optimizer):
    """Trains a `copy_model(model, **optimizer)` silently; returns its
    history (a dict of lists per metric)."""
    clone = copy_model(model, **optimizer)
    history = clone.fit(
        x,
        y,
        validation_data=validation_data,
        epochs=epochs,
        batch_size=batch_size,
        verbose=0,
    )
    return history.history


# ----------------------------------------------------------------- step 1


def check_target_scale(model, y, limit=10.0):
    """For a regressor: are the targets on a scale the output layer starts at?

    A freshly initialized output layer predicts values near 0 with spread ~1;
    targets of mean 5,000 or spread 1,000 take many steps of a tuned learning
    rate just to reach, and the overfit step then fails for the wrong reason.
    Returns `None` for a classifier; else a `StepResult` that fails when the
    targets' std or |mean| exceeds `limit`, naming the fix.
    """
    if _is_classifier(model):
        return None
    values = np.asarray(y, dtype="float64")
    mean, std = float(values.mean()), float(values.std())
    ok = std <= limit and abs(mean) <= limit
    message = f"targets have mean {mean:.3g} and std {std:.3g}" + (
        ""
        if ok
        else ": standardize them (y - mean) / std before training (and "
        "undo it on the predictions), or scale the loss; the output layer "
        "starts near 0 with a spread of about 1"
    )
    return StepResult("target_scale", ok, message, {"mean": mean, "std": std})


def check_initial_loss(model, x, y, tolerance=0.5):
    """Compares the untrained loss with its expected value.

    Expected: log C for a softmax over C classes (sparse or one-hot labels),
    log 2 for a sigmoid. Also checks that a softmax has as many units as the
    labels have classes. Fails when the relative gap exceeds `tolerance`.
    For a regressor it reports the loss of predicting the mean (var(y)) next
    to the initial loss, and fails only on a non-finite loss.
    """
    loss = float(model.evaluate(x, y, verbose=0, return_dict=True)["loss"])
    units = model.output_shape[-1]
    activation = getattr(model.layers[-1], "activation", None)
    activation = getattr(activation, "__name__", str(activation))
    y = np.asarray(y)
    details = {"loss": loss, "output_units": units}
    if activation == "softmax":
        classes = y.shape[-1] if y.ndim > 1 and y.shape[-1] > 1 else int(y.max()) + 1
        details["classes"] = classes
        expected = math.log(classes)
        if units != classes:
            return StepResult(
                "initial_loss",
                False,
                f"the output layer has {units} units but the labels have "
                f"{classes} classes; initial loss {loss:.3f} (expected log "
                f"{classes} = {expected:.3f})",
                {**details, "expected": expected},
            )
    elif activation == "sigmoid":
        expected = math.log(2.0)
    else:
        # A regressor has no universal expected value: report the loss of
        # predicting the mean (what a well-initialized output bias gives).
        baseline = float(np.var(y.astype("float64")))
        ok = math.isfinite(loss)
        return StepResult(
            "initial_loss",
            ok,
            f"regression: initial loss {loss:.3g}; predicting the mean would "
            f"give {baseline:.3g} (set the output bias to mean(y) to start there)",
            {**details, "mean_predictor_loss": baseline},
        )
    details["expected"] = expected
    gap = abs(loss - expected) / max(abs(expected), 1e-12)
    ok = math.isfinite(loss) and gap <= tolerance
    message = f"initial loss {loss:.3f}, expected about {expected:.3f}" + (
        "" if ok else " — check the output layer, the loss and the labels"
    )
    return StepResult("initial_loss", ok, message, details)


# ----------------------------------------------------------------- step 2


def check_overfit(
    model, x, y, *, batches=2, batch_size=32, max_epochs=200, target_accuracy=0.99
):
    """Trains a copy on `batches` batches; passes if it (nearly) memorises them.

    Classifiers must reach `target_accuracy` training accuracy; other models
    a loss below 1 % of the initial one.
    """
    n = min(len(x), batches * batch_size)
    xs, ys = x[:n], y[:n]
    clone = copy_model(model)
    classifier = _is_classifier(model)
    if classifier:
        clone.compile(optimizer=clone.optimizer, loss=model.loss, metrics=["accuracy"])
    initial = float(clone.evaluate(xs, ys, verbose=0, return_dict=True)["loss"])
    history = clone.fit(
        xs,
        ys,
        batch_size=batch_size,
        epochs=max_epochs,
        verbose=0,
        callbacks=[_stop_when_fitted(classifier, target_accuracy, initial, max_epochs)],
    )
    final_loss = history.history["loss"][-1]
    epochs = len(history.history["loss"])
    if classifier:
        accuracy = history.history["accuracy"][-1]
        ok = accuracy >= target_accuracy
        message = (
            f"training accuracy {accuracy:.3f} on {n} samples after {epochs} epochs"
        )
        details = {"accuracy": accuracy, "loss": final_loss, "epochs": epochs}
    else:
        ok = final_loss <= 0.01 * initial
        message = f"loss {final_loss:.3g} (from {initial:.3g}) after {epochs} epochs"
        details = {"loss": final_loss, "initial_loss": initial, "epochs": epochs}
    if not ok:
        message += " — cannot fit a tiny sample: the model is too small or broken"
    return StepResult("overfit", ok, message, details)


def _stop_when_fitted(classifier, target_accuracy, initial_loss, max_epochs):
    """Our `EarlyStopping`, stopping as soon as the sample is memorised: the
    training accuracy reaches `target_accuracy` (a classifier) or the loss
    falls to 1 % of `initial_loss` (a regressor); never for patience."""
    if classifier:
        monitor, mode, threshold = "accuracy", "max", target_accuracy
    else:
        monitor, mode, threshold = "loss", "min", 0.01 * initial_loss
    if not math.isfinite(threshold):  # A NaN loss: it stops on the first epoch.
        threshold = None
    return EarlyStopping(
        monitor,
        mode=mode,
        patience=max_epochs,
        stopping_threshold=threshold,
        restore_best_weights=False,
    )


# ----------------------------------------------------------------- step 4


def search_learning_rate_and_decay(
    model, x, y, validation_data, *, center, epochs=3, batch_size=32, verbose=1
):
    """A coarse grid around `center` (x1/10, x3/10, x1, x3; weight decay 0,
    1e-4, 1e-3), then the best learning rate x1/2 and x2 at its weight decay;
    returns the best `(learning_rate, weight_decay, trials)`, every trial
    with its best validation loss."""
    trials = []

    def score(lr, wd):
        history = train_copy(
            model, x, y, validation_data, epochs=epochs, batch_size=batch_size,
            learning_rate=lr, weight_decay=wd,
        )  # fmt: skip
        value = min(v if math.isfinite(v) else math.inf for v in history["val_loss"])
        trials.append({"learning_rate": lr, "weight_decay": wd, "val_loss": value})
        if verbose:
            print(f"  lr {lr:.3g}  weight decay {wd:g}  best val_loss {value:.4g}")
        return value

    coarse = [
        (center * f, wd) for f in (0.1, 0.3, 1.0, 3.0) for wd in (0.0, 1e-4, 1e-3)
    ]
    best = min(coarse, key=lambda p: score(*p))
    refined = [(best[0] * f, best[1]) for f in (0.5, 2.0)]
    for params in refined:
        score(*params)
    winner = min(trials, key=lambda t: t["val_loss"])
    return winner["learning_rate"], winner["weight_decay"], trials


def _is_classifier(model):
    activation = getattr(model.layers[-1], "activation", None)
    return getattr(activation, "__name__", "") in ("softmax", "sigmoid")
