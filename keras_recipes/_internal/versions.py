"""The installed Keras release, and the setups an older one cannot serve.

The package declares Keras 3.8 and later (`setup.cfg`); CI runs the oldest
(3.8, on JAX) and the newest (on every backend). Where an older release gets
a setup wrong in Keras itself, the callback that depends on it refuses at
`on_train_begin` in one line naming the installed version and the way out.
"""

import keras

# (major, minor), e.g. (3, 8).
KERAS_VERSION = tuple(int(part) for part in keras.version().split(".")[:2])


def on_tf_replicas(model):
    """Whether `model` trains on several `tf.distribute` replicas (the
    TensorFlow trainer's public `distribute_strategy`)."""
    if keras.backend.backend() != "tensorflow":
        return False
    strategy = getattr(model, "distribute_strategy", None)
    return getattr(strategy, "num_replicas_in_sync", 1) > 1


def refuse_tf_replicas_before(version, model, who, why):
    """Raises `ValueError` when `model` trains on several `tf.distribute`
    replicas and the installed Keras is older than `version` (a
    `(major, minor)` tuple)."""
    if KERAS_VERSION < version and on_tf_replicas(model):
        wanted = ".".join(map(str, version))
        raise ValueError(
            f"{who} cannot run under a tf.distribute strategy on Keras "
            f"{keras.version()}: {why}. Upgrade to Keras >= {wanted} "
            "(`pip install -U keras`), or run it outside the strategy's scope."
        )
