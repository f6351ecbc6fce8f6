"""`ShuffledBatches`: a shuffle that a resumed fit replays exactly.

`fit(x, y, shuffle=True)` draws each epoch's order from a random state that a
backup does not hold, so a fit resumed at epoch k sees other batches than an
uninterrupted one. Here epoch k's order is a function of `(seed, k)` only:
fit with `shuffle=False` and the dataset's `follow_epochs()` callback, and a
run resumed by `ResumableBackup` trains on the same batches.

Example:

>>> batches = ShuffledBatches(x, y, batch_size=32, seed=0)
>>> model.fit(batches, epochs=10, shuffle=False,
...           callbacks=[batches.follow_epochs(), backup])
"""

import math

import keras
import numpy as np

from keras_recipes._internal.validation import (
    check_int,
    check_positive_int,
    check_samples,
)


class ShuffledBatches(keras.utils.PyDataset):
    """Batches of `(x, y)`, in an order fixed by `seed` and the epoch.

    Args:
        x, y: Arrays with the same first dimension.
        batch_size: Samples per batch (the last batch may be smaller).
        seed: Seed of every epoch's permutation (an int >= 0).
    """

    def __init__(self, x, y, batch_size, seed=0):
        super().__init__()
        if y is None:
            raise TypeError("`y` must be an array of labels. Received: y=None")
        check_samples("x", x, "y", y)
        # Arrays: a batch is the rows at the epoch's permuted indices.
        self.x, self.y = np.asarray(x), np.asarray(y)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.seed = check_int("seed", seed, low=0)
        self.epoch = 0
        self._order = None

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def order(self, epoch):
        """The permutation of the samples that epoch `epoch` (0-based) uses."""
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.x))

    def __getitem__(self, index):
        if self._order is None or self._order[0] != self.epoch:
            self._order = (self.epoch, self.order(self.epoch))
        rows = self._order[1][index * self.batch_size : (index + 1) * self.batch_size]
        return self.x[rows], self.y[rows]

    def follow_epochs(self):
        """A callback that tells this dataset which epoch the fit is in (the
        resumed epoch too), before the epoch's first batch is read."""
        return _FollowEpochs(self)


class _FollowEpochs(keras.callbacks.Callback):
    def __init__(self, batches):
        super().__init__()
        self.batches = batches

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.epoch = epoch
