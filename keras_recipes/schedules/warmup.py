"""A linear warm-up in front of any learning-rate schedule."""

import keras
from keras import ops

from keras_recipes._internal.validation import check_number, check_positive_int

_Schedule = keras.optimizers.schedules.LearningRateSchedule


@keras.saving.register_keras_serializable(package="keras_recipes")
class LinearWarmup(_Schedule):
    """Linear warm-up from `initial_learning_rate`, then another schedule.

    lr(t) = initial + (after(0) - initial) * t / warmup_steps   for t < warmup_steps
    lr(t) = after(t - warmup_steps)                             otherwise

    The schedule that follows sees its own step count starting at 0 (as in
    optax's `join_schedules`), so it runs whole after the warm-up.

    Args:
        after: The schedule to follow the warm-up: a `LearningRateSchedule`
            or a constant learning rate (float > 0).
        warmup_steps: Length of the warm-up in steps. Must be >= 1.
        initial_learning_rate: The learning rate at step 0. Must be >= 0.
        name: Optional name of the schedule.

    Raises:
        TypeError: If `after` is neither a schedule nor a number.
        ValueError: If an argument is out of range.

    Example:

    >>> decay = keras.optimizers.schedules.ExponentialDecay(0.1, 1000, 0.1)
    >>> schedule = LinearWarmup(decay, warmup_steps=100)
    >>> keras.optimizers.Adam(learning_rate=schedule)

    Reference:
        P. Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet
        in 1 Hour", arXiv:1706.02677 (gradual warm-up).
    """

    def __init__(self, after, warmup_steps, initial_learning_rate=0.0, name=None):
        super().__init__()
        if isinstance(after, dict):
            after = keras.optimizers.schedules.deserialize(after)
        if not isinstance(after, _Schedule):
            after = check_number("after", after, low=0, low_open=True)
        self.after = after
        self.warmup_steps = check_positive_int("warmup_steps", warmup_steps)
        self.initial_learning_rate = check_number(
            "initial_learning_rate", initial_learning_rate, low=0
        )
        self.name = name

    def _after(self, step):
        if isinstance(self.after, _Schedule):
            return ops.cast(self.after(step), "float32")
        return ops.full_like(step, self.after)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        target = self._after(ops.zeros_like(step))
        warming = self.initial_learning_rate + (target - self.initial_learning_rate) * (
            step / self.warmup_steps
        )
        following = self._after(ops.maximum(step - self.warmup_steps, 0.0))
        return ops.where(step < self.warmup_steps, warming, following)

    def get_config(self):
        after = self.after
        if isinstance(after, _Schedule):
            after = keras.optimizers.schedules.serialize(after)
        return {
            "after": after,
            "warmup_steps": self.warmup_steps,
            "initial_learning_rate": self.initial_learning_rate,
            "name": self.name,
        }
