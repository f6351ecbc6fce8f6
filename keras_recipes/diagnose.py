"""Diagnose your training: the standard debugging procedure, automated.

1. `check_initial_loss`: the loss before training against its expected value
   (log C for a softmax over C classes, log 2 for a sigmoid; for a regressor,
   next to var(y)), and the output width against the labels;
2. `check_overfit`: can the model fit a few batches (near 100 % training
   accuracy, or a loss near 0)?
3. the LR range test (`find_learning_rate`);
4. `search_learning_rate_and_decay`: a short coarse search over learning rate
   and weight decay, then a refined one around the best;
5. `learning_curve_verdict`: train with the best setting, compare training
   and validation curves, and say under-fitting, over-fitting or healthy,
   with the usual remedies.

`diagnose` runs them all on copies of the model (the model passed in is not
trained), prints progress, returns a `Diagnosis` and writes a Markdown report
with its plots.
"""

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import numpy as np

from keras_recipes._validation import check_positive_int
from keras_recipes.lr_finder.find import find_learning_rate


@dataclass
class StepResult:
    """One step of the diagnosis: passed or not, what was measured, and why."""

    name: str
    ok: bool
    message: str
    details: dict = field(default_factory=dict)


@dataclass
class Diagnosis:
    """All steps, the chosen setting and the verdict."""

    steps: list
    best_learning_rate: float = None
    best_weight_decay: float = None
    verdict: str = None
    report_path: str = None

    @property
    def ok(self):
        return all(step.ok for step in self.steps)

    def step(self, name):
        return next(s for s in self.steps if s.name == name)


def copy_model(model, learning_rate=None, weight_decay=None):
    """A fresh copy of a compiled model: same architecture, weights, loss and
    metrics, a new optimizer of the same class (optionally another learning
    rate / weight decay)."""
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    config = model.optimizer.get_config()
    if learning_rate is not None:
        config["learning_rate"] = float(learning_rate)
    if weight_decay is not None:
        config["weight_decay"] = float(weight_decay) or None
    optimizer = type(model.optimizer).from_config(config)
    compile_config = model.get_compile_config()
    clone.compile(
        optimizer=optimizer,
        loss=model.loss,
        metrics=keras.saving.deserialize_keras_object(compile_config.get("metrics")),
    )
    return clone


# ----------------------------------------------------------------- step 1


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
        callbacks=[_StopAt(classifier, target_accuracy, initial)],
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


class _StopAt(keras.callbacks.Callback):
    def __init__(self, classifier, target_accuracy, initial_loss):
        super().__init__()
        self.classifier, self.target, self.initial = (
            classifier,
            target_accuracy,
            initial_loss,
        )

    def on_epoch_end(self, epoch, logs=None):
        if self.classifier and logs.get("accuracy", 0) >= self.target:
            self.model.stop_training = True
        elif not self.classifier and logs["loss"] <= 0.01 * self.initial:
            self.model.stop_training = True


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
        clone = copy_model(model, learning_rate=lr, weight_decay=wd)
        history = clone.fit(
            x,
            y,
            validation_data=validation_data,
            epochs=epochs,
            batch_size=batch_size,
            verbose=0,
        )
        value = min(
            v if math.isfinite(v) else math.inf for v in history.history["val_loss"]
        )
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


# ----------------------------------------------------------------- step 5


def moving_average(values, window=3):
    """Trailing moving average (the first points average what exists)."""
    values = np.asarray(values, dtype="float64")
    return np.array(
        [values[max(0, i - window + 1) : i + 1].mean() for i in range(len(values))]
    )


def learning_curve_verdict(train_loss, val_loss, *, gap_ratio=1.3, underfit_loss=None):
    """ "over-fitting", "under-fitting" or "healthy", with the remedy.

    Over-fitting: the smoothed validation loss ends above its minimum and
    above `gap_ratio` x the training loss. Under-fitting: the training loss
    stays above `underfit_loss` (by default, half the first epoch's) or
    still falls steeply at the end.
    """
    train = moving_average(train_loss)
    val = moving_average(val_loss)
    if underfit_loss is None:
        underfit_loss = 0.5 * train[0]
    if val[-1] > gap_ratio * train[-1] and val[-1] > 1.05 * val.min():
        return "over-fitting", (
            "more data or augmentation, stronger regularization (dropout, "
            "weight decay), a smaller model, or early stopping at the minimum"
        )
    if train[-1] > underfit_loss:
        return "under-fitting", (
            "a bigger model, more epochs, a higher learning rate or less regularization"
        )
    return "healthy", "keep going: more epochs with early stopping, or tune"


# ----------------------------------------------------------------- all


def diagnose(
    model,
    x,
    y,
    validation_data,
    *,
    output_dir=None,
    batch_size=32,
    search_epochs=3,
    final_epochs=20,
    overfit_epochs=200,
    verbose=1,
):
    """Runs the five steps on copies of `model` and writes a report.

    Args:
        model: A compiled classifier or regressor (not trained by this).
        x, y: Training data (arrays).
        validation_data: `(x_val, y_val)`.
        output_dir: Where to write `report.md`, `report.json` and the plots.
        batch_size: Batch size of every run.
        search_epochs: Epochs of each search trial.
        final_epochs: Epochs of the learning-curve run.
        overfit_epochs: Most epochs of the overfitting check.
        verbose: 1 prints progress.

    Returns:
        A `Diagnosis`.
    """
    check_positive_int("final_epochs", final_epochs)
    say = print if verbose else (lambda *a, **k: None)
    steps = []
    say("1/5 initial loss ...")
    steps.append(check_initial_loss(model, x, y))
    say(f"    {steps[-1].message}")
    say("2/5 overfit a small sample ...")
    steps.append(
        check_overfit(model, x, y, batch_size=batch_size, max_epochs=overfit_epochs)
    )
    say(f"    {steps[-1].message}")
    say("3/5 LR range test ...")
    finder = find_learning_rate(
        copy_model(model), x, y, batch_size=batch_size, verbose=0
    )
    center = finder.suggestion or 1e-3
    steps.append(
        StepResult(
            "lr_finder",
            finder.suggestion is not None,
            f"suggested learning rate {center:.3g} ({finder.stopped_reason})",
            {"suggestions": finder.suggestions},
        )
    )
    say(f"    {steps[-1].message}")
    say("4/5 coarse-to-fine search over learning rate and weight decay ...")
    lr, wd, trials = search_learning_rate_and_decay(
        model,
        x,
        y,
        validation_data,
        center=center,
        epochs=search_epochs,
        batch_size=batch_size,
        verbose=verbose,
    )
    steps.append(
        StepResult(
            "search",
            True,
            f"best learning rate {lr:.3g}, weight decay {wd:g}",
            {"trials": trials},
        )
    )
    say(f"    {steps[-1].message}")
    say("5/5 learning curves ...")
    final = copy_model(model, learning_rate=lr, weight_decay=wd)
    history = final.fit(
        x,
        y,
        validation_data=validation_data,
        epochs=final_epochs,
        batch_size=batch_size,
        verbose=0,
    ).history
    verdict, remedy = learning_curve_verdict(history["loss"], history["val_loss"])
    steps.append(
        StepResult(
            "learning_curves",
            verdict == "healthy",
            f"{verdict}: {remedy}",
            {"loss": history["loss"], "val_loss": history["val_loss"]},
        )
    )
    say(f"    {steps[-1].message}")
    diagnosis = Diagnosis(steps, lr, wd, verdict)
    if output_dir is not None:
        diagnosis.report_path = str(_write_report(diagnosis, finder, Path(output_dir)))
        say(f"report: {diagnosis.report_path}")
    return diagnosis


def _is_classifier(model):
    activation = getattr(model.layers[-1], "activation", None)
    return getattr(activation, "__name__", "") in ("softmax", "sigmoid")


def _write_report(diagnosis, finder, folder):
    from keras_recipes.plots import plot_learning_curves

    folder.mkdir(parents=True, exist_ok=True)
    finder.plot(folder / "lr_finder.png")
    curves = diagnosis.step("learning_curves").details
    plot_learning_curves(
        curves["loss"], curves["val_loss"], folder / "learning_curves.png"
    )
    lines = ["# Training diagnosis", ""]
    for number, step in enumerate(diagnosis.steps, 1):
        mark = "PASS" if step.ok else "FAIL"
        lines.append(f"{number}. **{step.name}** — {mark}: {step.message}")
    lines += [
        "",
        "![LR finder](lr_finder.png)",
        "",
        "![Learning curves](learning_curves.png)",
        "",
    ]
    path = folder / "report.md"
    path.write_text("\n".join(lines))
    (folder / "report.json").write_text(
        json.dumps(asdict(diagnosis), indent=2, default=float)
    )
    return path
