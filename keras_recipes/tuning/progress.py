"""One line per finished trial: what a long search prints while it runs.

    trial 3/20 (02): val_accuracy 0.963, best 0.9741 (01) | units=64
    optimizer=adam learning_rate=0.003 | 12.3 s, elapsed 41 s, ETA 3.9 min

The hyperparameters shown are those the search chooses (not the fixed ones).

The ETA is the mean time of the trials so far times the trials left; a
search without a trial count (Hyperband) shows none.
"""

import math
import time


class SearchProgress:
    """Formats and prints the line of each finished trial.

    Args:
        objective: The objective's name (e.g. `"val_accuracy"`).
        direction: `"max"` or `"min"`.
        total: Trials the search will run, or `None` if unknown.
        width: Most characters of the hyperparameters' part.
        print_fn: Where the lines go (default `print`).
    """

    def __init__(self, objective, direction, total=None, width=120, print_fn=print):
        self.objective = objective
        self.direction = direction
        self.total = total
        self.width = width
        self.print_fn = print_fn
        self.done = 0
        self.best = None  # (score, trial id)
        self._start = time.perf_counter()
        self._trial_start = self._start

    def trial_started(self):
        self._trial_start = time.perf_counter()

    def trial_ended(self, trial_id, status, score, hyperparameters):
        """Prints the line of a finished trial; returns it."""
        now = time.perf_counter()
        self.done += 1
        count = f"{self.done}/{self.total}" if self.total else f"{self.done}"
        if score is not None and math.isfinite(score) and self._better(score):
            self.best = (score, trial_id)
        if status == "COMPLETED" and score is not None:
            result = f"{self.objective} {score:.4g}"
        else:
            result = str(status).lower()
        best = f"{self.best[0]:.4g} ({self.best[1]})" if self.best else "none yet"
        elapsed = now - self._start
        timing = f"{now - self._trial_start:.1f} s, elapsed {_duration(elapsed)}"
        if self.total:
            left = max(self.total - self.done, 0)
            timing += f", ETA {_duration(elapsed / self.done * left)}"
        line = (
            f"trial {count} ({trial_id}): {result}, best {best} | "
            f"{_short(hyperparameters, self.width)} | {timing}"
        )
        self.print_fn(line)
        return line

    def _better(self, score):
        if self.best is None:
            return True
        return score > self.best[0] if self.direction == "max" else score < self.best[0]


def _short(values, width):
    """`name=value ...` with floats to 3 digits, cut to `width` characters."""
    parts = [
        f"{name}={value:.3g}" if isinstance(value, float) else f"{name}={value}"
        for name, value in values.items()
        if not name.startswith("tuner/")  # Hyperband's bookkeeping
    ]
    text = " ".join(parts)
    return text if len(text) <= width else text[: width - 3] + "..."


def _duration(seconds):
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
