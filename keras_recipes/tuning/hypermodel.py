"""`MLPHyperModel`: the paired MLP builder, its optimizer, schedule and batch."""

import math
import numbers

import keras
import keras_tuner

from keras_recipes.callbacks.by_name import scheduling_callback
from keras_recipes.callbacks.optimizer_logs import OptimizerLogs
from keras_recipes.models.builders import build_mlp
from keras_recipes.models.pairing import HIDDEN_ACTIVATIONS
from keras_recipes.schedules.factory import SCHEDULE_NAMES

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw", "nadam")

# name -> (kind, default, log sampling for a (low, high) range)
DEFAULT_SPACE = {
    "hidden_layers": ("int", (1, 4), False),
    "units": ("int", [32, 64, 128, 256, 512], True),
    "activation": ("str", ["relu", "elu", "selu", "tanh"], False),
    "batch_norm": ("bool", [False, True], False),
    "dropout": ("float", [0.0, 0.1, 0.2, 0.3, 0.5], False),
    "l2": ("float", [0.0, 1e-5, 1e-4, 1e-3], True),
    "optimizer": ("str", list(OPTIMIZERS), False),
    "learning_rate": ("float", (1e-4, 1e-1), True),
    "schedule": ("str", list(SCHEDULE_NAMES), False),
    "batch_size": ("int", [32, 64, 128], False),
    # Searched only when given in `space` (None: not a hyperparameter).
    "weight_decay": ("float", None, True),
    "global_clipnorm": ("float", None, True),
}
_ALLOWED = {
    "activation": HIDDEN_ACTIVATIONS,
    "optimizer": OPTIMIZERS,
    "schedule": SCHEDULE_NAMES,
}


class MLPHyperModel(keras_tuner.HyperModel):
    """A KerasTuner `HyperModel` over `build_mlp`, its optimizer and its fit.

    The search space (narrow or fix any entry with `space`, no subclassing):

    - `hidden_layers`: 1 to 4 (depth);
    - `units`: 32, 64, 128, 256, 512 (width of every hidden layer);
    - `activation`: relu, elu, selu, tanh (the initializer follows it: the
      pairing table);
    - `batch_norm`: False, True (searched for non-SELU activations only);
    - `dropout`: 0, 0.1, 0.2, 0.3, 0.5 (AlphaDropout with SELU);
    - `l2`: 0, 1e-5, 1e-4, 1e-3 (L2 penalty on the hidden kernels);
    - `optimizer`: sgd, momentum, nesterov (SGD with momentum 0.9, plain or
      Nesterov), rmsprop, adam, adamw (decoupled weight decay 0.004), nadam;
    - `learning_rate`: 1e-4 to 0.1, log-sampled (1cycle: the peak);
    - `schedule`: none, power, exponential, piecewise, performance,
      one-cycle (`keras_recipes.callbacks.by_name.scheduling_callback`);
    - `batch_size`: 32, 64, 128 (passed to `fit`);
    - `weight_decay` and `global_clipnorm`: not searched unless given in
      `space` (e.g. `{"weight_decay": [0.0, 1e-4, 1e-3]}`): Keras's decoupled
      weight decay (for `adamw`, 0 keeps Keras's 0.004) and clipping of all
      gradients together (0: none).

    A value in `space` is a list (a choice), a `(low, high)` tuple (a range;
    log-sampled for `units`, `l2` and `learning_rate`), or a single value
    (fixed). The model is compiled with `loss` and `metrics`; `fit` adds the
    schedule's callback in front of the others, puts the learning rate and
    the momentum in the epoch logs (so TensorBoard and `History` have them
    for every trial) and sets the batch size.

    Args:
        input_shape: Shape of one sample (flattened by the model).
        num_classes: Number of classes (softmax output); `1` for a sigmoid
            output with binary cross-entropy.
        space: `{name: list | (low, high) | value}` overriding the defaults.
        loss: Loss; default sparse (or binary) cross-entropy.
        metrics: Metrics to compile; default `["accuracy"]`.

    Raises:
        ValueError: On an unknown name in `space`, a value outside what the
            name allows, or an empty choice.
        TypeError: On a value of the wrong type.

    Example:

    >>> hypermodel = MLPHyperModel(
    ...     (64,), 10, space={"activation": ["relu", "selu"], "dropout": 0.0}
    ... )
    >>> tuner = keras_tuner.RandomSearch(hypermodel, "val_accuracy", max_trials=10)
    """

    def __init__(
        self, input_shape, num_classes, *, space=None, loss=None, metrics=None
    ):
        super().__init__(name="mlp")
        self.input_shape = tuple(input_shape)
        if not isinstance(num_classes, numbers.Integral) or num_classes < 1:
            raise ValueError(
                "`num_classes` must be an int >= 1. "
                f"Received: num_classes={num_classes!r}"
            )
        self.num_classes = int(num_classes)
        self.space = resolve_space(space)
        binary = self.num_classes == 1
        self.loss = loss or (
            "binary_crossentropy" if binary else "sparse_categorical_crossentropy"
        )
        self.metrics = ["accuracy"] if metrics is None else list(metrics)

    def build(self, hp):
        activation = self._value(hp, "activation")
        if activation == "selu":
            batch_norm = False
        else:
            parent = self.space["activation"]
            if isinstance(parent, list):
                non_selu = [a for a in parent if a != "selu"]
                with hp.conditional_scope("activation", non_selu):
                    batch_norm = self._value(hp, "batch_norm")
            else:
                batch_norm = self._value(hp, "batch_norm")
        model = build_mlp(
            self.input_shape,
            self.num_classes,
            hidden_layers=self._value(hp, "hidden_layers"),
            units=self._value(hp, "units"),
            activation=activation,
            batch_norm=batch_norm,
            dropout=self._value(hp, "dropout"),
            l2=self._value(hp, "l2"),
            output_activation="sigmoid" if self.num_classes == 1 else "softmax",
        )
        optimizer = make_optimizer(
            self._value(hp, "optimizer"),
            self._value(hp, "learning_rate"),
            weight_decay=self._value(hp, "weight_decay"),
            global_clipnorm=self._value(hp, "global_clipnorm"),
        )
        self._value(hp, "schedule")
        self._value(hp, "batch_size")
        model.compile(optimizer=optimizer, loss=self.loss, metrics=self.metrics)
        return model

    def fit(self, hp, model, *args, callbacks=None, schedule_epochs=None, **kwargs):
        """Fits `model` with the trial's schedule and batch size.

        Args:
            hp: The trial's `HyperParameters`.
            model: The model `build(hp)` returned.
            *args, **kwargs: For `model.fit` (`batch_size` is the trial's).
            callbacks: More callbacks; the schedule's goes first.
            schedule_epochs: The length of the schedule in epochs; default
                `epochs`. Hyperband gives its `max_epochs`, so that a trial
                continued from another's weights continues its schedule.
        """
        epochs = kwargs.get("epochs", 1)
        validated = kwargs.get("validation_data") is not None or kwargs.get(
            "validation_split"
        )
        schedule = scheduling_callback(
            hp.get("schedule"),
            hp.get("learning_rate"),
            max(schedule_epochs or epochs, epochs),
            model.optimizer,
            monitor="val_loss" if validated else "loss",
        )
        callbacks = list(callbacks or [])
        if not any(isinstance(c, OptimizerLogs) for c in callbacks):
            callbacks.insert(0, OptimizerLogs())
        if schedule is not None:
            callbacks.insert(0, schedule)
        kwargs["batch_size"] = hp.get("batch_size")
        return model.fit(*args, callbacks=callbacks, **kwargs)

    def is_grid_range(self, name):
        """Whether `name`'s range has steps a grid can list (linear integers)."""
        kind, _, log = DEFAULT_SPACE[name]
        return kind == "int" and not log

    def _value(self, hp, name):
        """Registers `name` in `hp` as the space says, and returns its value."""
        kind, _, log = DEFAULT_SPACE[name]
        spec = self.space[name]
        if spec is None:  # Not searched.
            return None
        if isinstance(spec, list):
            if kind == "bool" and sorted(spec) == [False, True]:
                return hp.Boolean(name)
            return hp.Choice(name, spec, ordered=kind in ("int", "float"))
        if isinstance(spec, tuple):
            sampling = "log" if log else "linear"
            if kind == "int":
                return hp.Int(name, spec[0], spec[1], sampling=sampling)
            return hp.Float(name, spec[0], spec[1], sampling=sampling)
        return hp.Fixed(name, spec)


def resolve_space(space):
    """Checks `space` and merges it into the defaults (see `MLPHyperModel`)."""
    if space is None:
        space = {}
    if not isinstance(space, dict):
        raise TypeError(
            "`space` must be a dict of {name: list | (low, high) | value}. "
            f"Received: space={space!r}"
        )
    unknown = sorted(set(space) - set(DEFAULT_SPACE))
    if unknown:
        raise ValueError(
            f"`space` has unknown names {unknown}. Allowed: {sorted(DEFAULT_SPACE)}"
        )
    resolved = {name: default for name, (_, default, _) in DEFAULT_SPACE.items()}
    for name, spec in space.items():
        resolved[name] = _check_entry(name, spec)
    return resolved


def _check_entry(name, spec):
    kind = DEFAULT_SPACE[name][0]
    if isinstance(spec, (list, tuple)) and not spec:
        raise ValueError(f"`space['{name}']` is empty. Received: {spec!r}")
    if isinstance(spec, tuple):
        if kind not in ("int", "float") or len(spec) != 2:
            raise ValueError(
                f"`space['{name}']`: a tuple is a (low, high) range, only for "
                f"numbers. Received: {spec!r}"
            )
        low, high = (_check_value(name, kind, v) for v in spec)
        if not low < high:
            raise ValueError(f"`space['{name}']` needs low < high. Received: {spec!r}")
        if DEFAULT_SPACE[name][2] and low <= 0:
            raise ValueError(
                f"`space['{name}']` is sampled on a log scale: its range needs "
                "low > 0 (give 0 as a choice instead, e.g. [0.0, 1e-4, 1e-3]). "
                f"Received: {spec!r}"
            )
        return (low, high)
    if isinstance(spec, list):
        values = [_check_value(name, kind, v) for v in spec]
        if len(set(values)) != len(values):
            raise ValueError(f"`space['{name}']` repeats a value. Received: {spec!r}")
        return values
    return _check_value(name, kind, spec)


def _check_value(name, kind, value):
    types = {
        "int": numbers.Integral,
        "float": numbers.Real,
        "str": str,
        "bool": bool,
    }[kind]
    if not isinstance(value, types) or (kind != "bool" and isinstance(value, bool)):
        raise TypeError(
            f"`space['{name}']` takes {kind} values. Received: {value!r} "
            f"({type(value).__name__})"
        )
    if name in _ALLOWED and value not in _ALLOWED[name]:
        raise ValueError(
            f"`space['{name}']`: {value!r} is not allowed. "
            f"Allowed: {list(_ALLOWED[name])}"
        )
    if kind == "float":
        value = float(value)
        limits = {"dropout": (0.0, 1.0), "learning_rate": (0.0, math.inf)}
        low, high = limits.get(name, (0.0, math.inf))
        if not (low <= value < high) or (name == "learning_rate" and value == 0):
            raise ValueError(
                f"`space['{name}']` must be in [{low}, {high}) "
                f"(and > 0 for learning_rate). Received: {value!r}"
            )
    if kind == "int":
        value = int(value)
        smallest = 1 if name != "hidden_layers" else 0
        if value < smallest:
            raise ValueError(
                f"`space['{name}']` must be >= {smallest}. Received: {value!r}"
            )
    return value


def make_optimizer(name, learning_rate, *, weight_decay=None, global_clipnorm=None):
    """A Keras optimizer from the search space's `optimizer` name, with
    Keras's own decoupled weight decay and global clipping (0 or None: none;
    `adamw` keeps Keras's weight decay 0.004 unless one is given)."""
    options = {"global_clipnorm": global_clipnorm or None}
    if weight_decay:
        options["weight_decay"] = weight_decay
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, **options)
    if name == "momentum":
        return keras.optimizers.SGD(learning_rate, momentum=0.9, **options)
    if name == "nesterov":
        return keras.optimizers.SGD(
            learning_rate, momentum=0.9, nesterov=True, **options
        )
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate, **options)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate, **options)
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate, **options)
    if name == "nadam":
        return keras.optimizers.Nadam(learning_rate, **options)
    raise ValueError(f"Unknown optimizer {name!r}. Allowed: {list(OPTIMIZERS)}")
