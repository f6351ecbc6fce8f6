"""Which process of a multi-worker run writes the shared files.

Under `tf.distribute.MultiWorkerMirroredStrategy` every worker runs the same
script with the same callbacks over the same folders. Only the chief writes
checkpoints, manifests, backups and TensorBoard runs; the other workers do
the same work (a save may need every worker) into a private temporary
folder that is removed after it, as tf.keras's callbacks did.

The chief is the task that `TF_CONFIG` calls "chief" (or "master"), or
worker 0 of a cluster without one (TensorFlow's rule). A process without
`TF_CONFIG` is the chief of itself. `TF_CONFIG` is read from the
environment, so this needs no TensorFlow import.
"""

import json
import os


def is_chief(environ=None):
    """Whether this process writes the shared files (see the module docstring).

    Raises:
        ValueError: If `TF_CONFIG` is set but is not a JSON object.
    """
    environ = os.environ if environ is None else environ
    text = environ.get("TF_CONFIG")
    if not text:
        return True
    try:
        config = json.loads(text)
    except ValueError as error:
        raise ValueError(
            f"The TF_CONFIG environment variable is not JSON ({error}). "
            f"Received: TF_CONFIG={text!r}"
        ) from None
    if not isinstance(config, dict):
        raise ValueError(
            f"The TF_CONFIG environment variable must be a JSON object. "
            f"Received: TF_CONFIG={text!r}"
        )
    task = config.get("task") or {}
    cluster = config.get("cluster") or {}
    kind = task.get("type")
    if kind is None or kind in ("chief", "master"):
        return True
    if kind == "worker":
        has_chief = "chief" in cluster or "master" in cluster
        return not has_chief and int(task.get("index", 0)) == 0
    return False  # evaluator, ps: never write the run's files
