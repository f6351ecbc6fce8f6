"""`diagnose`: the standard debugging procedure, automated, with its report."""

from dataclasses import dataclass
from pathlib import Path

from keras_recipes._internal.validation import (
    check_choice,
    check_int,
    check_path,
    check_samples,
    check_validation_data,
)
from keras_recipes.diagnose.report import write_report
from keras_recipes.diagnose.steps import (
    StepResult,
    check_initial_loss,
    check_overfit,
    check_target_scale,
    copy_model,
    search_learning_rate_and_decay,
    train_copy,
)
from keras_recipes.diagnose.verdict import learning_curve_verdict
from keras_recipes.lr_finder.find import find_learning_rate


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

    Raises:
        ValueError: For a model with several outputs (the steps read one
            loss, one output layer and one label array), or a bad argument
            (checked before any step: e.g. `x` and `y` of other lengths).
        TypeError: For an argument of the wrong kind (an uncompiled model,
            `validation_data` that is not a pair).
    """
    _check_arguments(
        model, x, y, validation_data, output_dir=output_dir, batch_size=batch_size,
        search_epochs=search_epochs, final_epochs=final_epochs,
        overfit_epochs=overfit_epochs, verbose=verbose,
    )  # fmt: skip
    say = print if verbose else (lambda *a, **k: None)
    steps = []
    scale = check_target_scale(model, y)
    if scale is not None:
        steps.append(scale)
        say(f"targets: {scale.message}")
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
    history = train_copy(
        model, x, y, validation_data, epochs=final_epochs, batch_size=batch_size,
        learning_rate=lr, weight_decay=wd,
    )  # fmt: skip
    verdict, remedy = learning_curve_verdict(history["loss"], history["val_loss"])
    failed = [step for step in steps if not step.ok]
    if failed and verdict == "healthy":
        # Curves that look fine after a failed check are not a healthy model.
        verdict = "failed checks"
        remedy = "; ".join(f"{step.name}: {step.message}" for step in failed)
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
        diagnosis.report_path = str(write_report(diagnosis, finder, Path(output_dir)))
        say(f"report: {diagnosis.report_path}")
    return diagnosis


def _check_arguments(model, x, y, validation_data, *, output_dir, batch_size,
                     search_epochs, final_epochs, overfit_epochs, verbose):  # fmt: skip
    """`diagnose`'s arguments, checked before any step runs."""
    import keras

    if not isinstance(model, keras.Model) or not getattr(model, "compiled", True):
        raise TypeError(
            "`model` must be a compiled keras.Model (its loss is what the "
            f"steps read). Received: model={model!r}"
        )
    if len(model.outputs or [None]) > 1:
        names = ", ".join(getattr(model, "output_names", None) or [])
        raise ValueError(
            f"diagnose checks a model with one output; this one has "
            f"{len(model.outputs)} ({names}). Diagnose each head as a model of "
            "its own (`keras.Model(model.inputs, model.get_layer(name).output)`, "
            "compiled with that head's loss)."
        )
    # Caps: a typo must not make a step run for hours.
    check_int("batch_size", batch_size, low=1, high=1 << 16)
    check_int("search_epochs", search_epochs, low=1, high=1000)
    check_int("final_epochs", final_epochs, low=1, high=10_000)
    check_int("overfit_epochs", overfit_epochs, low=1, high=10_000)
    check_choice("verbose", verbose, (0, 1))
    check_path("output_dir", output_dir, allow_none=True)
    check_samples("x", x, "y", y)
    check_validation_data(validation_data)
