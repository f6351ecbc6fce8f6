"""`LRFinderResult`: what an LR range test measured and what it suggests."""

import csv
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class LRFinderResult:
    """The curve of an LR range test and the learning rates it suggests.

    `keras_recipes.plots.plot_lr_finder(result, path)` draws it.

    Attributes:
        learning_rates: Learning rate of each recorded point.
        losses: Loss of each point: the loss of that batch (not Keras's running
            mean), or the validation loss after it when sweeping on
            validation data. With `steps_per_execution=N` a point is the mean
            over the N batches of one execution, at the geometric mean of
            their learning rates.
        smoothed_losses: Bias-corrected exponential moving average of
            `losses`; NaN from the first non-finite loss on.
        suggestions: Every method's suggestion by name (`valley`, `steep`,
            `minimum`, `slide`); `None` where the curve was too short.
        method: Name of the default suggestion method.
        stopped_reason: Why the sweep ended.
        monitor: `"loss"` or `"val_loss"`.
        steps: Optimizer steps the sweep ran.
    """

    learning_rates: list
    losses: list
    smoothed_losses: list
    suggestions: dict = field(default_factory=dict)
    method: str = "valley"
    stopped_reason: str = ""
    monitor: str = "loss"
    steps: int = 0

    @property
    def suggestion(self):
        """The learning rate suggested by the default method (`method`)."""
        return self.suggestions.get(self.method)

    def to_csv(self, path):
        """Writes the curve as CSV: learning_rate, loss, smoothed_loss."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["learning_rate", self.monitor, f"smoothed_{self.monitor}"])
            writer.writerows(
                zip(
                    self.learning_rates,
                    self.losses,
                    self.smoothed_losses,
                    strict=True,
                )
            )
        return path
