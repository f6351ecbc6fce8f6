"""Bases for transfer learning: loading one, and putting a new head on it.

`keras_recipes.fine_tuning.fine_tune` trains what `with_new_head` makes.
"""

from pathlib import Path

import keras

from keras_recipes._internal.validation import check_path
from keras_recipes.models.augment import augmentation_layers

APPLICATIONS_PREFIX = "applications:"
KERAS_HUB_PREFIX = "keras_hub:"


def load_base(base):
    """A base model: a `keras.Model` (copied), the path of a saved `.keras` model, or
    `"applications:NAME"` (`keras.applications.NAME(include_top=False,
    weights="imagenet", pooling="avg")`: downloads its weights once, so it
    needs a network the first time), or `"keras_hub:PRESET"` (KerasHub's
    `Backbone.from_preset(PRESET)`, e.g. `"keras_hub:resnet_50_imagenet"`;
    needs `pip install keras-hub`)."""
    if isinstance(base, keras.Model):
        # A copy: fine-tuning leaves the caller's model as it was.
        copy = keras.models.clone_model(base)
        copy.set_weights(base.get_weights())
        return copy
    if isinstance(base, str) and base.startswith(APPLICATIONS_PREFIX):
        name = base[len(APPLICATIONS_PREFIX) :]
        constructor = getattr(keras.applications, name, None)
        if not callable(constructor):
            raise ValueError(
                f"`base`: keras.applications has no model {name!r}. Received: "
                f"base={base!r}"
            )
        return constructor(include_top=False, weights="imagenet", pooling="avg")
    if isinstance(base, str) and base.startswith(KERAS_HUB_PREFIX):
        try:
            import keras_hub
        except ImportError:
            raise ValueError(
                f"`base`: {base!r} needs KerasHub (pip install keras-hub). "
                f"Received: base={base!r}"
            ) from None
        # A backbone's preset (downloads once): its output is the features.
        return keras_hub.models.Backbone.from_preset(base[len(KERAS_HUB_PREFIX) :])
    path = Path(check_path("base", base))
    if path.suffix != ".keras" or not path.exists():
        raise ValueError(
            "`base` must be a keras.Model, an existing .keras file, "
            f"'applications:NAME' or 'keras_hub:PRESET'. Received: base={str(base)!r}"
        )
    return keras.models.load_model(path)


def _extractor(base, features_layer):
    """The base cut at `features_layer` (default: below its old head)."""
    if features_layer is None:
        if len(base.outputs) > 1:
            raise ValueError(
                f"`features_layer`: the base has {len(base.outputs)} outputs, so "
                "which features feed the new head is not clear; pass the name of "
                "the layer to cut at. Received: features_layer=None"
            )
        last = base.layers[-1]
        is_head = isinstance(last, keras.layers.Dense) and len(base.layers) > 1
        if not is_head:
            return keras.Model(base.inputs, base.outputs[0], name="base")
        output = last.input
    else:
        try:
            output = base.get_layer(features_layer).output
        except ValueError:
            names = ", ".join(layer.name for layer in base.layers)
            raise ValueError(
                f"`features_layer`: the base has no layer {features_layer!r} "
                f"(it has {names})."
            ) from None
    return keras.Model(base.inputs, output, name="base")


def with_new_head(base, num_classes, *, features_layer=None, augment=False,
                  head_dropout=0.0):  # fmt: skip
    """`(model, extractor)`: `base` cut at `features_layer` (the extractor,
    whose layers are the base's) under a new softmax head of `num_classes`
    (named "head"), with augmentation in front if asked; the extractor is
    called with `training=False`."""
    extractor = _extractor(base, features_layer)
    inputs = keras.Input(tuple(extractor.inputs[0].shape[1:]))
    features = inputs
    if augment is not False:
        for layer in augmentation_layers(augment):
            features = layer(features)
    # training=False: the base's batch norm stays in inference mode.
    features = extractor(features, training=False)
    if len(features.shape) > 2:
        features = keras.layers.GlobalAveragePooling2D()(features)
    if head_dropout:
        features = keras.layers.Dropout(head_dropout, seed=1)(features)
    # float32 under a mixed policy too: a float16 softmax loses the small
    # probabilities (Keras's mixed-precision advice for the last layer).
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", kernel_initializer="glorot_uniform",
        name="head", dtype="float32",
    )(features)  # fmt: skip
    return keras.Model(inputs, outputs, name="fine_tuned"), extractor


def _all_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer


def layers_with_weights(model):
    """The layers of `model` (nested models' included) that hold weights."""
    return [layer for layer in _all_layers(model) if layer.weights]
