"""`OneCycle`: the 1cycle policy as a callback, momentum cycled too."""

from keras_recipes._internal.validation import check_bool, check_number
from keras_recipes.callbacks._scheduling import SchedulingCallback
from keras_recipes.schedules.factory import check_momenta, check_one_cycle_length
from keras_recipes.schedules.one_cycle import MAX_MOMENTUM, MIN_MOMENTUM


class OneCycle(SchedulingCallback):
    """Trains with Smith's 1cycle policy, whatever learning rate was compiled.

    During the fit the optimizer follows exactly
    `OneCycleSchedule(max_learning_rate, total_steps=<updates of the fit>, ...)`
    with the same defaults (PyTorch's `OneCycleLR`: start at max / 25, peak
    at 30 % of the steps, end at start / 1e4 on the fit's last update),
    evaluated inside the compiled train step.
    With `cycle_momentum=True` the momentum (`SGD.momentum`, or `beta_1` of
    Adam, AdamW, Adamax, Nadam) moves inversely, from `max_momentum` down to
    `min_momentum` at the peak and back, and really changes the update on
    every backend (except Nadam on JAX, refused: part of its update reads
    `beta_1` as a constant there). After the fit the optimizer has its
    compiled values again. A model saved during the fit (e.g. by
    `ModelCheckpoint`) loads as the compiled optimizer; on PyTorch its
    momentum is that of the last step, because PyTorch's Keras optimizers
    take the momentum as a Python number.

    The cycle spans `fit(epochs=...)` unless `total_steps` or `total_epochs`
    is given; `fit(initial_epoch=k)` starts `k` epochs into it.

    Args:
        max_learning_rate: The peak learning rate (e.g. from the LR finder).
        total_steps: Length of the cycle in optimizer steps.
        total_epochs: Length of the cycle in epochs (or give `total_steps`).
        shape: `"cosine"` (default) or `"linear"` (three phases); see
            `OneCycleSchedule` for the formulas and defaults of `pct_start`,
            `div_factor` and `final_div_factor` (fastai's names).
        pct_start: Fraction of the cycle spent rising.
        div_factor: initial learning rate = max_learning_rate / div_factor.
        final_div_factor: final learning rate = initial / final_div_factor.
        cycle_momentum: Whether to cycle the momentum.
        max_momentum: Momentum at the ends of the cycle (fastai's `moms[0]`).
        min_momentum: Momentum at the peak of the learning rate.
        steps_per_epoch: Optimizer steps per epoch, for data of unknown length.

    Raises:
        ValueError: On a bad argument; at `on_train_begin`, if the optimizer
            has a schedule instead of a float learning rate, or its momentum
            cannot be cycled (then pass `cycle_momentum=False`).

    Example:

    >>> model.compile(optimizer=keras.optimizers.SGD(momentum=0.9), loss=...)
    >>> model.fit(x, y, epochs=10, callbacks=[OneCycle(max_learning_rate=0.1)])

    Reference:
        L. N. Smith, arXiv:1803.09820; fastai `fit_one_cycle`.
    """

    schedule_name = "one-cycle"

    def __init__(
        self,
        max_learning_rate,
        total_steps=None,
        total_epochs=None,
        shape="cosine",
        pct_start=None,
        div_factor=None,
        final_div_factor=None,
        cycle_momentum=True,
        max_momentum=MAX_MOMENTUM,
        min_momentum=MIN_MOMENTUM,
        steps_per_epoch=None,
        log_dir=None,
        optimizers=None,
    ):
        super().__init__(
            steps_per_epoch=steps_per_epoch, log_dir=log_dir, optimizers=optimizers
        )
        self.total_steps, self.total_epochs = check_one_cycle_length(
            total_steps, total_epochs
        )
        self.max_learning_rate = check_number(
            "max_learning_rate", max_learning_rate, low=0, low_open=True
        )
        self.shape = shape
        self.pct_start = pct_start
        self.div_factor = div_factor
        self.final_div_factor = final_div_factor
        self.cycle_momentum = check_bool("cycle_momentum", cycle_momentum)
        self.max_momentum, self.min_momentum = check_momenta(max_momentum, min_momentum)
        # Builds one schedule now so that its arguments are checked now.
        self.schedule_for(epochs=1, steps_per_epoch=1)

    def initial_learning_rate_for(self, compiled_learning_rate):
        return self.max_learning_rate

    def schedule_options(self):
        return {
            "total_steps": self.total_steps,
            "total_epochs": self.total_epochs,
            "shape": self.shape,
            "pct_start": self.pct_start,
            "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor,
            "cycle_momentum": self.cycle_momentum,
            "max_momentum": self.max_momentum,
            "min_momentum": self.min_momentum,
        }
