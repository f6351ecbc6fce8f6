"""The learning-rate range test.

`algorithms` (pure NumPy: smoothing, divergence, suggestions), `result`
(`LRFinderResult`), `find` (`find_learning_rate`); the callback is
`keras_recipes.callbacks.LRFinder`. The public names are re-exported by
`keras_recipes`.
"""
