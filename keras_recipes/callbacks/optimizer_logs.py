"""`OptimizerLogs`: the optimizer's learning rate and momentum in the epoch logs."""

import keras

from keras_recipes._internal.driver import applying_optimizer, momentum_attribute


class OptimizerLogs(keras.callbacks.Callback):
    """Puts the optimizer's learning rate and momentum in the epoch logs.

    So that `History`, `CSVLogger` and `TensorBoard` (listed after it) record
    them for every fit, scheduled or not. A key already in the logs is left
    alone: a scheduling callback listed before it logs the values it drives
    for the next step itself. The momentum is `SGD.momentum` or `beta_1` of
    the Adam family; an optimizer without one logs none. Under mixed
    precision they are the `LossScaleOptimizer`'s inner optimizer's.

    Example:

    >>> model.fit(x, y, epochs=5, callbacks=[OptimizerLogs(), CSVLogger("h.csv")])
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        optimizer = applying_optimizer(self.model.optimizer)
        if "learning_rate" not in logs:
            logs["learning_rate"] = float(
                keras.ops.convert_to_numpy(optimizer.learning_rate)
            )
        attribute = momentum_attribute(optimizer)
        if "momentum" not in logs and attribute is not None:
            logs["momentum"] = float(getattr(optimizer, attribute))
