"""The learning-rate range test: the algorithm and its callback together.

`algorithms` (pure NumPy: smoothing, divergence, suggestions), `sweep` (the
learning rate of each step), `callback` (`LRFinder`), `result`
(`LRFinderResult`) and `find` (`find_learning_rate`, which runs the fit).
`keras_recipes.plots.plot_lr_finder` draws a result.
"""

from keras_recipes.lr_finder.callback import LRFinder
from keras_recipes.lr_finder.find import find_learning_rate
from keras_recipes.lr_finder.result import LRFinderResult

__all__ = ["LRFinder", "LRFinderResult", "find_learning_rate"]
