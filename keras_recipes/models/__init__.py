"""Model builders that pair the weight initializer with the activation."""

from keras_recipes.models.augment import tta_predict
from keras_recipes.models.builders import build_cnn, build_mlp
from keras_recipes.models.pairing import (
    HIDDEN_ACTIVATIONS,
    INITIALIZERS,
    initializer_for,
)
from keras_recipes.models.uncertainty import mc_dropout_predict

__all__ = [
    "HIDDEN_ACTIVATIONS",
    "INITIALIZERS",
    "build_cnn",
    "build_mlp",
    "initializer_for",
    "mc_dropout_predict",
    "tta_predict",
]
