"""Which checkpoints `BestCheckpoint` keeps: the best `save_top_k` by its
monitor, NaN and Inf never among them."""

import math


class Ranking:
    """The kept checkpoints' order and admission.

    Args:
        tracker: The callback's `Monitor` (its direction and `min_delta`).
        save_top_k: How many to keep when `save_best_only`.
        save_best_only: `False` keeps every finite value.
        initial_value_threshold: Nothing that does not beat it is kept.
    """

    def __init__(self, tracker, save_top_k, save_best_only, initial_value_threshold):
        self.tracker = tracker
        self.save_top_k = save_top_k
        self.save_best_only = save_best_only
        self.initial_value_threshold = initial_value_threshold

    def admits(self, kept, value):
        """Whether `value` is finite, beats the threshold and the worst of
        `kept` (best first) by `min_delta`, or `kept` has room."""
        if not math.isfinite(value):
            return False
        threshold = self.initial_value_threshold
        if threshold is not None and not self.tracker.improves_on(value, threshold):
            return False
        if not self.save_best_only or len(kept) < self.save_top_k:
            return True
        return self.tracker.improves_on(value, kept[-1]["value"])

    def insert(self, kept, entry):
        """`(kept, evicted)`: `entry` among `kept`, best first, and what no
        longer fits the top k."""
        kept = sorted(kept + [entry], key=lambda c: self.tracker.ordered(c["value"]))
        if not self.save_best_only:
            return kept, []
        return kept[: self.save_top_k], kept[self.save_top_k :]
