"""`ActivationMonitor`: per-layer activation statistics on a probe batch."""

import weakref

import keras
import numpy as np

from keras_recipes._internal.gradients import outputs_of
from keras_recipes._internal.validation import check_number, check_positive_int
from keras_recipes.models.pairing import activation_name

# Units that output 0 with a zero gradient below 0 (leaky ReLU, PReLU, ELU,
# GELU, SiLU and Mish keep a gradient there: they cannot die).
_ZERO_BELOW = {"relu", "relu6"}
_SATURATING = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}
# model -> (ids of the watched layers, the probe model of their outputs)
_PROBES = weakref.WeakKeyDictionary()


class ActivationMonitor(keras.callbacks.Callback):
    """Mean, std, dead and saturated fractions of every activation, per epoch.

    On a fixed probe batch, every `every` epochs, for each layer with a
    known nonlinear activation (a `Dense`/`Conv` with `activation=` or an
    activation layer):

    * `mean`, `std` of its outputs;
    * `dead`: for ReLU and ReLU6, the fraction of units that output 0 for
      every probe sample (they get no gradient);
    * `saturated`: for tanh and sigmoid, the fraction of outputs within
      `saturation_margin` of the asymptotes (their gradient vanishes).

    Results go to `history` (one dict per checked epoch) and, summarised, to
    the epoch logs: `activation_std_min`, `activation_std_max`,
    `dead_fraction_max`, `saturated_fraction_max`.

    Args:
        probe_x: A batch of inputs (e.g. 256 training samples).
        every: Epochs between checks (>= 1).
        saturation_margin: Distance to an asymptote counted as saturated.
        verbose: 1 prints the layers with the most dead or saturated units.

    Attributes:
        history: `[{"epoch": e, "layers": {name: {"mean", "std", "dead",
            "saturated"}}}, ...]`.

    Raises:
        ValueError: At `on_train_begin`, for a model without symbolic inputs
            (a subclassed model that was never built functionally).

    Example:

    >>> monitor = ActivationMonitor(x_train[:256])
    >>> model.fit(x_train, y_train, epochs=5, callbacks=[monitor])
    >>> monitor.history[-1]["layers"]["dense"]["dead"]
    """

    def __init__(self, probe_x, every=1, saturation_margin=0.01, verbose=0):
        super().__init__()
        shape = getattr(probe_x, "shape", None)
        if shape is None or len(shape) < 1 or shape[0] < 1:
            raise ValueError(
                "`probe_x` must be a batch of at least one input (an array of "
                "shape (n, ...) with n >= 1, e.g. 256 training samples). "
                f"Received: probe_x with shape {shape}"
            )
        self.probe_x = probe_x
        self.every = check_positive_int("every", every)
        self.saturation_margin = check_number(
            "saturation_margin", saturation_margin, low=0, high=0.5, high_open=True
        )
        self.verbose = verbose
        self.history = []

    def on_train_begin(self, logs=None):
        model = self.model
        try:
            inputs = model.inputs
        except AttributeError:
            inputs = None
        if not inputs:
            raise ValueError(
                "ActivationMonitor needs a model with symbolic inputs "
                "(Sequential with an `Input`, or functional)."
            )
        self._layers = [
            (layer, name) for layer in model.layers if (name := _activation_of(layer))
        ]
        if not self._layers:
            raise ValueError(
                "ActivationMonitor found no layer to watch in this model: it "
                "watches the layers with a nonlinear activation other than "
                "softmax (Dense/Conv with `activation=`, or an Activation, "
                "ReLU, LeakyReLU, PReLU or ELU layer). Remove the callback, "
                "or give the hidden layers an activation."
            )
        self._probe = _probe_of(model, [layer for layer, _ in self._layers])
        self.history = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every or not self._layers:
            return
        # Compiled once per probe (`predict` would trace a predict function
        # for every fit: ~60 ms on TensorFlow, docs/benchmarks.md).
        outputs = outputs_of(self._probe, self.probe_x)
        layers = {}
        for (layer, activation), output in zip(self._layers, outputs, strict=True):
            layers[layer.name] = self._statistics(np.asarray(output), activation)
        self.history.append({"epoch": epoch + 1, "layers": layers})
        if logs is not None:
            stds = [s["std"] for s in layers.values()]
            logs["activation_std_min"] = min(stds)
            logs["activation_std_max"] = max(stds)
            logs["dead_fraction_max"] = max(s["dead"] for s in layers.values())
            logs["saturated_fraction_max"] = max(
                s["saturated"] for s in layers.values()
            )
        if self.verbose:
            worst = max(
                layers, key=lambda n: max(layers[n]["dead"], layers[n]["saturated"])
            )
            print(f"\nActivationMonitor: {worst}: {layers[worst]}")

    def _statistics(self, output, activation):
        units = output.reshape(-1, output.shape[-1])
        dead = saturated = 0.0
        if activation in _ZERO_BELOW:
            dead = float(np.mean(np.all(units <= 0, axis=0)))
        if activation in _SATURATING:
            low, high = _SATURATING[activation]
            margin = self.saturation_margin
            saturated = float(np.mean((units < low + margin) | (units > high - margin)))
        return {
            "mean": float(units.mean()),
            "std": float(units.std()),
            "dead": dead,
            "saturated": saturated,
        }


def _probe_of(model, layers):
    """The model of `layers`' outputs, one per model and layers: a later fit
    runs the probe compiled for an earlier one."""
    key = tuple(id(layer) for layer in layers)
    cached = _PROBES.get(model)
    if cached is None or cached[0] != key:
        cached = key, keras.Model(model.inputs, [layer.output for layer in layers])
        _PROBES[model] = cached
    return cached[1]


def _activation_of(layer):
    """The table name of `layer`'s nonlinear activation, or `None`."""
    candidate = (
        layer if _is_activation_layer(layer) else getattr(layer, "activation", None)
    )
    if candidate is None:
        return None
    try:
        name = activation_name(candidate)
    except ValueError:
        return None
    return None if name in ("linear", "softmax") else name


def _is_activation_layer(layer):
    return isinstance(
        layer,
        (keras.layers.Activation, keras.layers.ReLU, keras.layers.LeakyReLU,
         keras.layers.PReLU, keras.layers.ELU),
    )  # fmt: skip
