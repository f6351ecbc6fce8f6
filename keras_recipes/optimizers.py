"""Discriminative learning rates: one optimizer, a rate multiplier per group.

Fine-tuning trains a pretrained model's early layers with lower learning
rates than its new head (fastai's `slice(lr / 100, lr)`). Keras 3 has no
successor to TensorFlow Addons' `MultiOptimizer` for this, and scaling the
gradients is not the same thing: Adam's step does not change when its
gradients are scaled.

`DiscriminativeOptimizer` wraps any Keras optimizer and scales the *update*
it applies to each variable: after the wrapped optimizer's step, a variable
of multiplier m is set to `old + m * (new - old)`. For every Keras optimizer
whose step is proportional to its learning rate (SGD with or without
momentum, Adam, AdamW, Adamax, Nadam, RMSprop, Lion, ...) this is exactly the
step it would take with the learning rate `m * learning_rate`, decoupled
weight decay included, while its slots (moments, velocities) evolve as they
would; m = 0 freezes a variable without recompiling. The wrapped optimizer
keeps its one learning rate, momentum and step count, so the scheduling
callbacks (OneCycle, ...) drive every group at once: a group's rate is its
multiplier times the schedule.

Cost: a copy of each scaled variable during the step (the scaled groups'
weights once more in memory) and a few element-wise operations; the time
per step is not benchmarked yet. It runs under `tf.distribute` (each replica
scales the same synchronized update; tested under a 2-replica
MirroredStrategy) and `keras.distribution` (a 2-device DataParallel).

Serialization: the groups are kept as variable paths
(`"base/dense/kernel"`), so a model saved with `model.save` loads with its
optimizer, multipliers and slots (the class is registered with Keras).

Example:

>>> optimizer = DiscriminativeOptimizer(
...     keras.optimizers.Adam(1e-3),
...     [(base_model, 0.1), ("head", 1.0)],  # layers, names or variables
... )
>>> model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
>>> model.fit(x, y, callbacks=[kr.OneCycle(1e-3, epochs=5)])
"""

import math
import numbers
import types

import keras
from keras import ops

from keras_recipes._internal.validation import check_number


@keras.saving.register_keras_serializable(package="keras_recipes")
class DiscriminativeOptimizer(keras.optimizers.Optimizer):
    """Applies `optimizer`'s update scaled by a multiplier per variable group.

    Args:
        optimizer: The `keras.optimizers.Optimizer` whose update is scaled
            (not a `LossScaleOptimizer`: under `mixed_float16`, Keras wraps
            this one).
        groups: A list of `(selector, multiplier)` pairs. A selector is a
            layer (its variables), a variable, a name (the variables whose
            path has it as a component or prefix, e.g. a layer's or a nested
            model's name), or a list of these. A variable takes the
            multiplier of the first group that selects it.
        default: The multiplier of the variables no group selects.
        name: The optimizer's name.

    Raises:
        TypeError, ValueError: For an optimizer that is not a Keras one, a
            group that is not a pair, an unknown kind of selector, or a
            multiplier that is not a finite number >= 0.
    """

    def __init__(self, optimizer, groups, *, default=1.0, name=None, **kwargs):
        if not isinstance(optimizer, keras.optimizers.Optimizer) or isinstance(
            optimizer, keras.optimizers.LossScaleOptimizer
        ):
            raise TypeError(
                "`optimizer` must be a Keras optimizer (not a LossScaleOptimizer: "
                "under mixed_float16 Keras wraps this one). Received: "
                f"optimizer={optimizer!r}"
            )
        if kwargs:
            raise ValueError(
                "DiscriminativeOptimizer takes no optimizer options of its own: set "
                f"them on `optimizer`. Received: {', '.join(sorted(kwargs))}"
            )
        groups = _check_groups(groups)
        default = check_number("default", default, low=0)
        super().__init__(
            learning_rate=0.0, name=name or f"discriminative_{optimizer.name}"
        )
        self._groups, self.default = groups, float(default)
        self.inner_optimizer = optimizer
        self._multipliers = None
        self._built_for = None

    def build(self, var_list):
        self.inner_optimizer.build(var_list)
        self._multipliers = {id(v): self.multiplier_of(v) for v in var_list}
        # In a namespace: a list of variables set as an attribute would be
        # tracked as this optimizer's own variables.
        self._built_for = types.SimpleNamespace(variables=list(var_list))
        super().build(var_list)

    def multiplier_of(self, variable):
        """The multiplier of `variable`'s update."""
        path = variable.path
        for selectors, multiplier in self._groups:
            for selector in selectors:
                if selector is variable or (
                    isinstance(selector, str) and _selects(selector, path)
                ):
                    return multiplier
                if isinstance(selector, keras.layers.Layer) and any(
                    w is variable for w in selector.weights
                ):
                    return multiplier
        return self.default

    @property
    def variables(self):
        return super().variables + self.inner_optimizer.variables

    def apply(self, grads, trainable_variables=None):
        if not self.built:
            with keras.name_scope(self.name, caller=self):
                self.build(trainable_variables)
        variables = trainable_variables or self._built_for.variables
        multipliers = [self._multipliers.get(id(v), self.default) for v in variables]
        scaled = [(v, m) for v, m in zip(variables, multipliers, strict=True) if m != 1]
        before = [ops.copy(ops.convert_to_tensor(v)) for v, _ in scaled]
        self.inner_optimizer.apply(grads, trainable_variables)
        for (variable, multiplier), old in zip(scaled, before, strict=True):
            new = ops.convert_to_tensor(variable)
            step = ops.multiply(ops.subtract(new, old), multiplier)
            variable.assign(ops.cast(ops.add(old, step), variable.dtype))

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        self.inner_optimizer.learning_rate = learning_rate

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    def scale_loss(self, loss):
        return self.inner_optimizer.scale_loss(loss)

    def finalize_variable_values(self, var_list):
        self.inner_optimizer.finalize_variable_values(var_list)

    def get_config(self):
        groups = [
            [[_path_of(s) for s in selectors], multiplier]
            for selectors, multiplier in self._groups
        ]
        return {
            "name": self.name,
            "optimizer": keras.saving.serialize_keras_object(self.inner_optimizer),
            "groups": groups,
            "default": self.default,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        optimizer = keras.saving.deserialize_keras_object(
            config.pop("optimizer"), custom_objects=custom_objects
        )
        return cls(optimizer, **config)


def _selects(name, path):
    """Whether a name selects a variable path: a prefix, or a component run."""
    return path == name or path.startswith(name + "/") or f"/{name}/" in f"/{path}"


def _path_of(selector):
    if isinstance(selector, str):
        return selector
    if isinstance(selector, keras.layers.Layer):
        if not selector.weights:
            raise ValueError(
                f"Layer {selector.name!r} of the optimizer's groups has no "
                "variables to save by path yet (build the model first)."
            )
        return [w.path for w in selector.weights]
    return selector.path


def _check_groups(groups):
    if not isinstance(groups, (list, tuple)):
        raise TypeError(
            "`groups` must be a list of (selector, multiplier) pairs. "
            f"Received: groups={groups!r}"
        )
    checked = []
    for index, group in enumerate(groups):
        if not isinstance(group, (list, tuple)) or len(group) != 2:
            raise TypeError(
                f"`groups` must hold (selector, multiplier) pairs. Received: "
                f"groups[{index}]={group!r}"
            )
        selectors, multiplier = group
        if not isinstance(selectors, (list, tuple)):
            selectors = [selectors]
        selectors = _flat(selectors)
        for selector in selectors:
            if not isinstance(selector, (str, keras.layers.Layer, keras.Variable)):
                raise TypeError(
                    "`groups` selectors must be layers, variables or names. "
                    f"Received: groups[{index}] selector {selector!r}"
                )
        if (
            isinstance(multiplier, bool)
            or not isinstance(multiplier, numbers.Real)
            or not math.isfinite(multiplier)
            or multiplier < 0
        ):
            raise ValueError(
                "`groups` multipliers must be finite numbers >= 0. Received: "
                f"groups[{index}] multiplier {multiplier!r}"
            )
        checked.append((tuple(selectors), float(multiplier)))
    return checked


def _flat(selectors):
    """Selectors with saved lists of paths (from `get_config`) flattened."""
    flat = []
    for selector in selectors:
        flat += _flat(selector) if isinstance(selector, (list, tuple)) else [selector]
    return flat


OPTIMIZERS = ("adam", "sgd")


def make_optimizer(
    name="adam",
    learning_rate=1e-3,
    *,
    momentum=0.9,
    weight_decay=None,
    clipnorm=None,
    global_clipnorm=None,
):
    """Keras's optimizer for the recipes' regularization flags, checked.

    Args:
        name: `"adam"` (`AdamW` with `weight_decay`) or `"sgd"` (with
            `momentum`; `weight_decay` is then Keras's decoupled decay too).
        learning_rate: The learning rate (> 0).
        momentum: SGD's momentum, in [0, 1).
        weight_decay: Decoupled weight decay (Loshchilov & Hutter): each step
            also takes `learning_rate * weight_decay * w` off every weight;
            `None` or 0 for none.
        clipnorm: Clip each variable's gradient to this norm.
        global_clipnorm: Clip all gradients together to this global norm (not
            with `clipnorm`).

    Returns:
        A `keras.optimizers.Optimizer` (Keras's own: nothing rewritten).
    """
    from keras_recipes._internal.validation import check_choice

    check_choice("name", name, OPTIMIZERS)
    check_number("learning_rate", learning_rate, low=0, low_open=True)
    check_number("momentum", momentum, low=0, high=1, high_open=True)
    for argument, value in (("weight_decay", weight_decay), ("clipnorm", clipnorm),
                            ("global_clipnorm", global_clipnorm)):  # fmt: skip
        if value is not None:
            check_number(argument, value, low=0, low_open=argument != "weight_decay")
    if clipnorm is not None and global_clipnorm is not None:
        raise ValueError(
            "Pass one of `clipnorm` (per variable) and `global_clipnorm` (all "
            f"gradients together). Received: clipnorm={clipnorm}, "
            f"global_clipnorm={global_clipnorm}"
        )
    clipping = {"clipnorm": clipnorm, "global_clipnorm": global_clipnorm}
    decay = weight_decay or None
    if name == "sgd":
        return keras.optimizers.SGD(
            learning_rate, momentum=momentum, weight_decay=decay, **clipping
        )
    if decay:
        return keras.optimizers.AdamW(learning_rate, weight_decay=decay, **clipping)
    return keras.optimizers.Adam(learning_rate, **clipping)
