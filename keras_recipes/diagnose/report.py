"""The diagnosis report: Markdown, JSON and the plots."""

import json
from dataclasses import asdict

from keras_recipes.plots import plot_learning_curves, plot_lr_finder


def write_report(diagnosis, finder, folder):
    """Writes `report.md`, `report.json`, `lr_finder.png` and
    `learning_curves.png` into `folder`; returns the path of `report.md`.

    Args:
        diagnosis: The `Diagnosis` (its `learning_curves` step holds the
            curves).
        finder: The `LRFinderResult` of the LR range test step.
        folder: A `pathlib.Path`, created if needed.
    """
    folder.mkdir(parents=True, exist_ok=True)
    plot_lr_finder(finder, folder / "lr_finder.png")
    curves = diagnosis.step("learning_curves").details
    plot_learning_curves(
        curves["loss"], curves["val_loss"], folder / "learning_curves.png"
    )
    lines = ["# Training diagnosis", ""]
    for number, step in enumerate(diagnosis.steps, 1):
        mark = "PASS" if step.ok else "FAIL"
        lines.append(f"{number}. **{step.name}** — {mark}: {step.message}")
    lines += [
        "",
        "![LR finder](lr_finder.png)",
        "",
        "![Learning curves](learning_curves.png)",
        "",
    ]
    path = folder / "report.md"
    path.write_text("\n".join(lines))
    diagnosis.report_path = str(path)  # Before the JSON, which records it.
    (folder / "report.json").write_text(
        json.dumps(asdict(diagnosis), indent=2, default=float)
    )
    return path
