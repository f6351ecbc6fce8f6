"""`GradientMonitor`: gradient norms and update ratios, with a warning."""

import math
import warnings

import keras
import numpy as np
from keras import ops

from keras_recipes._internal.driver import applying_optimizer
from keras_recipes._internal.gradients import loss_and_gradients
from keras_recipes._internal.state import snapshot
from keras_recipes._internal.validation import (
    check_number,
    check_path,
    check_positive_int,
)
from keras_recipes._internal.workers import is_chief


class GradientMonitor(keras.callbacks.Callback):
    """Watches gradient norms and update sizes, and warns when they go wrong.

    Every `every` training batches it computes, on a fixed probe batch, the
    loss gradient of every trainable variable (inference mode, nothing of
    the model changes), and after the next optimizer step the size of that
    step. Per layer it records:

    * `norm`: the L2 norm of the layer's gradients, and `rms` = norm /
      sqrt(number of weights), comparable across layer sizes;
    * `update_ratio`: ||w_after - w_before|| / ||w_before|| over one step
      (the rule of thumb is ~1e-3; far below: the layer barely learns).

    It warns once per problem, naming the layers:

    * exploding: the global norm is non-finite or above
      `exploding_threshold`;
    * vanishing: a layer's `rms` is below `vanishing_ratio` times the
      largest layer's (the signal dies on its way back), or the global norm
      is below `vanishing_threshold`.

    The epoch logs get `gradient_norm` and `update_ratio_min` from the last
    check. With `log_dir`, scalars and gradient histograms also go to
    TensorBoard (`gradients/...`, `updates/...`).

    Args:
        probe_data: `(x, y)` of one batch (e.g. 256 training samples).
        every: Training batches between checks (>= 1).
        vanishing_ratio: Smallest healthy layer rms / largest layer rms.
        vanishing_threshold: Smallest healthy global gradient norm.
        exploding_threshold: Largest healthy global gradient norm.
        log_dir: Optional TensorBoard folder.
        verbose: 1 prints each check's global norm.

    Attributes:
        history: One dict per check: `step`, `loss`, `global_norm`,
            `layers` (`{name: {"norm", "rms", "update_ratio"}}`).
        problems: `{"vanishing": [layers], "exploding": [layers]}` seen so far.

    Example:

    >>> monitor = GradientMonitor((x_train[:256], y_train[:256]), every=50)
    >>> model.fit(x_train, y_train, epochs=5, callbacks=[monitor])
    >>> monitor.problems
    """

    def __init__(
        self,
        probe_data,
        every=100,
        vanishing_ratio=1e-4,
        vanishing_threshold=1e-8,
        exploding_threshold=1e3,
        log_dir=None,
        verbose=0,
    ):
        super().__init__()
        if not isinstance(probe_data, (tuple, list)) or len(probe_data) != 2:
            raise TypeError(
                "`probe_data` must be a tuple `(x, y)` of one batch. "
                f"Received: probe_data of type {type(probe_data).__name__}"
            )
        self.probe_data = tuple(probe_data)
        self.every = check_positive_int("every", every)
        self.vanishing_ratio = check_number(
            "vanishing_ratio", vanishing_ratio, low=0, high=1, low_open=True
        )
        self.vanishing_threshold = check_number(
            "vanishing_threshold", vanishing_threshold, low=0
        )
        self.exploding_threshold = check_number(
            "exploding_threshold", exploding_threshold, low=0, low_open=True
        )
        self.log_dir = check_path("log_dir", log_dir, allow_none=True)
        self.verbose = verbose
        self._writer = None
        self.history = []
        self.problems = {}

    def on_train_begin(self, logs=None):
        self.history = []
        self.problems = {}
        self._batches = 0
        self._checked_at = None
        self._before = None
        owner = {}
        for layer in self.model.layers:
            for variable in layer.trainable_variables:
                owner.setdefault(id(variable), layer.name)
        self._owners = [
            owner.get(id(v), v.path) for v in self.model.trainable_variables
        ]

    def on_train_batch_begin(self, batch, logs=None):
        # Before the step, on the train loop's thread: the state is the one
        # the previous step left. A batch-begin hook (unlike a batch-end one)
        # leaves Keras's async dispatch of the batch-end hooks on, and the
        # batches between checks cost a counter, no wait for the device.
        self._catch_up()
        self._batches += 1

    def _catch_up(self):
        # The update of the step after the last check, then a check if due.
        if self._before is not None:
            self._record_updates()
        due = self._batches and self._batches % self.every == 0
        if due and self._checked_at != self._batches:
            self._checked_at = self._batches
            self._check()

    def on_epoch_end(self, epoch, logs=None):
        # A check due after the epoch's last step is made here (its update
        # is recorded before the next step).
        self._catch_up()
        if logs is not None and self.history:
            last = self.history[-1]
            logs["gradient_norm"] = last["global_norm"]
            ratios = [
                s["update_ratio"]
                for s in last["layers"].values()
                if s["update_ratio"] is not None
            ]
            if ratios:
                logs["update_ratio_min"] = min(ratios)

    def on_train_end(self, logs=None):
        # Closed, not kept: the callback stays deep-copyable (KerasTuner copies
        # it for every trial); a next fit opens a new event file.
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _check(self):
        model = self.model  # Syncs the JAX state.
        x, y = self.probe_data
        loss, gradients = loss_and_gradients(model, x, y)
        layers = {}
        for name, gradient in zip(self._owners, gradients, strict=True):
            entry = layers.setdefault(name, {"sq": 0.0, "size": 0, "grads": []})
            entry["sq"] += float(np.sum(np.square(gradient)))
            entry["size"] += gradient.size
            entry["grads"].append(gradient.ravel())
        global_norm = math.sqrt(sum(e["sq"] for e in layers.values()))
        iterations = applying_optimizer(model.optimizer).iterations
        record = {
            "step": int(ops.convert_to_numpy(iterations)),
            "loss": loss,
            "global_norm": global_norm,
            "layers": {
                name: {
                    "norm": math.sqrt(e["sq"]),
                    "rms": math.sqrt(e["sq"] / max(e["size"], 1)),
                    "update_ratio": None,
                }
                for name, e in layers.items()
            },
        }
        self.history.append(record)
        self._before = snapshot(model.trainable_variables)
        self._diagnose(record)
        if self.log_dir and is_chief():  # Other workers write no runs.
            self._write(
                record, {n: np.concatenate(e["grads"]) for n, e in layers.items()}
            )
        if self.verbose:
            print(
                f"\nGradientMonitor: step {record['step']}, "
                f"gradient norm {global_norm:.3g}"
            )

    def _record_updates(self):
        after = snapshot(self.model.trainable_variables)
        sums = {}
        for name, old, new in zip(self._owners, self._before, after, strict=True):
            delta, weight = sums.get(name, (0.0, 0.0))
            sums[name] = (
                delta + float(np.sum(np.square(new - old))),
                weight + float(np.sum(np.square(old))),
            )
        record = self.history[-1]
        for name, (delta, weight) in sums.items():
            ratio = math.sqrt(delta) / math.sqrt(weight) if weight > 0 else None
            record["layers"][name]["update_ratio"] = ratio
        self._before = None
        if self.log_dir and is_chief():  # Other workers write no runs.
            self._write_updates(record)

    def _diagnose(self, record):
        layers = record["layers"]
        norm = record["global_norm"]
        if not math.isfinite(norm) or norm > self.exploding_threshold:
            largest = sorted(layers, key=lambda n: -_finite(layers[n]["norm"]))[:3]
            self._warn("exploding", largest, f"global gradient norm {norm:.3g} > "
                       f"{self.exploding_threshold:g}")  # fmt: skip
            return
        top = max(s["rms"] for s in layers.values())
        faint = [n for n, s in layers.items() if s["rms"] < self.vanishing_ratio * top]
        if faint or norm < self.vanishing_threshold:
            self._warn("vanishing", faint or list(layers),
                       f"gradient rms below {self.vanishing_ratio:g} x the largest "
                       f"layer's (global norm {norm:.3g})")  # fmt: skip

    def _warn(self, kind, names, detail):
        if kind in self.problems:
            return
        self.problems[kind] = names
        remedy = {
            "vanishing": "use He (ReLU) or LeCun (SELU) initialization, "
            "non-saturating activations, batch normalization or residual links",
            "exploding": "lower the learning rate, clip gradients "
            "(`clipnorm`), or check the initialization",
        }[kind]
        warnings.warn(
            f"GradientMonitor: {kind} gradients at step "
            f"{self.history[-1]['step']} in layers {', '.join(names)}: {detail}. "
            f"Try: {remedy}.",
            RuntimeWarning,
            stacklevel=2,
        )

    def _summary_writer(self):
        import tensorflow as tf  # TensorBoard writing only.

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        return self._writer

    def _write(self, record, gradients):
        import tensorflow as tf

        with self._summary_writer().as_default(step=record["step"]):
            tf.summary.scalar("gradients/global_norm", record["global_norm"])
            for name, stats in record["layers"].items():
                tf.summary.scalar(f"gradients/{name}/norm", stats["norm"])
                tf.summary.histogram(f"gradients/{name}", gradients[name])

    def _write_updates(self, record):
        import tensorflow as tf

        with self._summary_writer().as_default(step=record["step"]):
            for name, stats in record["layers"].items():
                if stats["update_ratio"] is not None:
                    tf.summary.scalar(f"updates/{name}/ratio", stats["update_ratio"])


def _finite(value):
    return value if math.isfinite(value) else math.inf
