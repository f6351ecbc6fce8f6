"""`find_learning_rate`: run an LR range test on a compiled model."""

from keras_recipes._internal.train_step import undo_holds
from keras_recipes._internal.validation import check_positive_int
from keras_recipes.lr_finder.callback import LRFinder

_RESERVED = ("epochs", "callbacks", "validation_data", "initial_epoch")


def find_learning_rate(
    model,
    x,
    y=None,
    *,
    min_learning_rate=1e-7,
    max_learning_rate=10.0,
    num_steps=100,
    mode="exponential",
    divergence_threshold=4.0,
    beta=0.98,
    method="valley",
    validation_data=None,
    verbose=1,
    **fit_kwargs,
):
    """Runs the LR range test and leaves the model exactly as it was.

    Trains `model` for up to `num_steps` optimizer steps while the learning
    rate sweeps from `min_learning_rate` to `max_learning_rate`, records the
    loss of every batch, stops on divergence, and suggests a learning rate.
    Afterwards every model variable is restored bit for bit, and so is the
    optimizer (iterations, slots and learning rate): the next `fit` starts as
    if the finder had never run. So it is when the sweep is interrupted
    (Ctrl-C, an error in the data): the exception goes on after the restore.

    The data may be anything `model.fit` takes (NumPy arrays, a
    `tf.data.Dataset`, a `keras.utils.PyDataset`, a Python generator); no
    sample count is needed: the sweep runs over as many epochs of the data as
    it takes. `steps_per_execution` set at `compile` is honoured.

    Args:
        model: A compiled Keras model with a float learning rate.
        x: Inputs, as for `model.fit`.
        y: Targets, as for `model.fit` (`None` for datasets and generators).
        min_learning_rate: First learning rate of the sweep (fastai: 1e-7).
        max_learning_rate: Last learning rate (fastai: 10).
        num_steps: Optimizer steps of the sweep (>= 10; fastai: 100).
        mode: `"exponential"` or `"linear"` sweep.
        divergence_threshold: Stop when the smoothed loss exceeds this times
            its best (fastai: 4); `None` stops only on NaN/Inf.
        beta: Smoothing of the moving average of the loss (fastai: 0.98).
        method: Default suggestion (`"valley"`, `"steep"`, `"minimum"`,
            `"slide"`); all four are in `result.suggestions`.
        validation_data: Optional `(x, y)`: sweep on the loss on them.
        verbose: 1 prints progress and the suggestion.
        **fit_kwargs: Passed to `model.fit` (e.g. `batch_size`, `shuffle`).

    Returns:
        An `LRFinderResult` (`suggestion`, `suggestions`, `learning_rates`,
        `losses`, `smoothed_losses`, `to_csv(path)`; draw it with
        `keras_recipes.plots.plot_lr_finder(result, path)`).

    Raises:
        ValueError: If the model is not compiled, an argument is out of range,
            or `fit_kwargs` holds an argument the finder sets itself.

    Example:

    >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    >>> result = find_learning_rate(model, x_train, y_train, batch_size=32)
    >>> keras_recipes.plots.plot_lr_finder(result, "lr_finder.png")
    >>> model.fit(x_train, y_train, callbacks=[OneCycle(result.suggestion)])
    """
    if not getattr(model, "compiled", False) or model.optimizer is None:
        raise ValueError(
            "`model` must be compiled (with an optimizer and a loss) before "
            "the LR finder can train it. Call `model.compile(...)` first."
        )
    reserved = sorted(set(fit_kwargs) & set(_RESERVED))
    if reserved:
        raise ValueError(
            f"find_learning_rate sets {', '.join(reserved)} itself; remove "
            f"{'it' if len(reserved) == 1 else 'them'} from the arguments. "
            f"Received: {', '.join(f'{k}={fit_kwargs[k]!r}' for k in reserved)}"
        )
    finder = LRFinder(
        min_learning_rate=min_learning_rate,
        max_learning_rate=max_learning_rate,
        num_steps=num_steps,
        mode=mode,
        divergence_threshold=divergence_threshold,
        beta=beta,
        method=method,
        validation_data=validation_data,
        verbose=verbose,
    )
    if "batch_size" in fit_kwargs:
        check_positive_int("batch_size", fit_kwargs["batch_size"], allow_none=True)
    fit_kwargs.setdefault("verbose", 0)
    # As many epochs as steps: enough for any data length, the finder stops
    # the fit once the sweep is over.
    try:
        model.fit(x, y, epochs=num_steps, callbacks=[finder], **fit_kwargs)
    except BaseException:
        # Keras calls no `on_train_end` then (Ctrl-C, a bad batch): the
        # model and optimizer go back to how they were, now.
        undo_holds(model)
        raise
    return finder.result
