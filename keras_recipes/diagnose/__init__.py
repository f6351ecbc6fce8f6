"""Diagnose your training: the standard debugging procedure, automated.

`diagnose` (in `workflow`) runs the five steps of `steps` on copies of the
model: the initial loss, overfitting a few batches, the LR range test, a
coarse-to-fine search over learning rate and weight decay, and learning
curves judged by `verdict` (pure NumPy). It prints progress, returns a
`Diagnosis` and writes the report (`report`: Markdown, JSON, plots).
"""

from keras_recipes.diagnose.steps import (
    StepResult,
    check_initial_loss,
    check_overfit,
    check_target_scale,
    copy_model,
    search_learning_rate_and_decay,
)
from keras_recipes.diagnose.verdict import learning_curve_verdict
from keras_recipes.diagnose.workflow import Diagnosis, diagnose

__all__ = [
    "Diagnosis",
    "StepResult",
    "check_initial_loss",
    "check_overfit",
    "check_target_scale",
    "copy_model",
    "diagnose",
    "learning_curve_verdict",
    "search_learning_rate_and_decay",
]
