"""KerasTuner search recipes: the paired MLP's space, tuners that log every trial.

`search(...)` is the one-call entry point; `MLPHyperModel` and `make_tuner`
are its parts, for use with KerasTuner directly; `summarize` ranks a
tuner's trials and writes the summary; `distributed_role` says what a
process is in KerasTuner's chief/worker mode.
"""

from keras_recipes.tuning.distributed import distributed_role
from keras_recipes.tuning.hypermodel import MLPHyperModel
from keras_recipes.tuning.search import search
from keras_recipes.tuning.summary import SearchResult, summarize
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
    "distributed_role",
    "make_tuner",
    "search",
    "summarize",
]
