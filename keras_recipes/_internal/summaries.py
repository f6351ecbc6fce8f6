"""Scalars written to TensorBoard in one batch (TensorFlow imported inside)."""


class ScalarWriter:
    """Writes series of scalars to one TensorBoard run folder.

    The event file is opened at the first `write` and stays open until
    `close` (one file per fit, not one per epoch).
    """

    def __init__(self, log_dir):
        self.log_dir = str(log_dir)
        self._writer = None

    def write(self, tag, steps, values):
        """Writes `values[i]` under `tag` at step `steps[i]`, then flushes."""
        import tensorflow as tf  # TensorBoard writing only.

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        with self._writer.as_default():
            for step, value in zip(steps, values, strict=True):
                tf.summary.scalar(tag, float(value), step=int(step))
        self._writer.flush()

    def close(self):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
