"""Model builders that pair the weight initializer with the activation."""

from keras_recipes.models.builders import build_cnn, build_mlp
from keras_recipes.models.pairing import INITIALIZERS, initializer_for

__all__ = ["INITIALIZERS", "build_cnn", "build_mlp", "initializer_for"]
