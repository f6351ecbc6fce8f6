"""KerasTuner search recipes: the paired MLP's space, tuners that log every trial.

`search(...)` is the one-call entry point; `MLPHyperModel` and `make_tuner`
are its parts, for use with KerasTuner directly.
"""

from keras_recipes.tuning.hypermodel import MLPHyperModel
from keras_recipes.tuning.search import SearchResult, search, summarize
from keras_recipes.tuning.tuners import (
    BayesianOptimization,
    GridSearch,
    Hyperband,
    RandomSearch,
    make_tuner,
)

__all__ = [
    "BayesianOptimization",
    "GridSearch",
    "Hyperband",
    "MLPHyperModel",
    "RandomSearch",
    "SearchResult",
    "make_tuner",
    "search",
    "summarize",
]
