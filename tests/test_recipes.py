"""Every recipe runs with --smoke and writes what it promises."""

import csv
import importlib
import importlib.util
import json
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_recipes as kr
from tests.tensorboard_events import read_run

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def load_recipe(name):
    spec = importlib.util.spec_from_file_location(name, RECIPES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "recipe, command",
    [
        ("train", "train"),
        ("find_lr", "lr_find"),
        ("diagnose", "diagnose"),
        ("plot_schedule", "schedule"),
        ("tune_mlp", "tune"),
    ],
)
def test_recipe_is_the_command(recipe, command):
    # The scripts hold no logic: they run the package's `keras-recipes` command.
    module = load_recipe(recipe)
    package = importlib.import_module(f"keras_recipes.commands.{command}")
    assert module.main is package.main
    assert module.build_parser is package.build_parser
    # The docstring points to the command's help instead of copying it.
    assert f"`keras-recipes {command.replace('_', '-')}`" in module.__doc__
    assert f"python recipes/{recipe}.py --help" in module.__doc__
    assert "Usage:" not in module.__doc__


@pytest.mark.parametrize(
    "schedule",
    ["one-cycle", "power", "exponential", "piecewise", "performance", "none"],
)
@pytest.mark.slow
def test_train_smoke(tmp_path, capsys, schedule):
    train = load_recipe("train")
    # The main recipe (CNN, 1cycle) as it runs by default; the other schedules
    # on the MLP, which is quicker and schedules the same way.
    model = [] if schedule == "one-cycle" else ["--model", "mlp"]
    argv = ["--smoke", "--schedule", schedule, "--log-dir", str(tmp_path), *model]
    assert train.main(argv) == 0
    out = capsys.readouterr().out
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert f"test accuracy: {metrics['test_accuracy']:.4f}" in out
    assert f"tensorboard --logdir {tmp_path / 'tensorboard'}" in out
    for step in range(1, 6):
        assert f"[{step}/5]" in out
    # Two epochs of the paired CNN or MLP on digits are far above chance (0.1).
    assert metrics["test_accuracy"] > 0.5
    # 1cycle trains at the finder's "minimum", the other schedules at "valley".
    method = "minimum" if schedule == "one-cycle" else "valley"
    assert metrics["learning_rate_from"] == method
    assert metrics["learning_rate"] == metrics["suggestions"][method]
    assert json.loads((tmp_path / "args.json").read_text())["schedule"] == schedule
    rows = list(csv.DictReader((tmp_path / "history.csv").open()))
    assert len(rows) == 2
    manifest = json.loads((tmp_path / "best" / "checkpoints.json").read_text())
    assert manifest["best"]["epoch"] == metrics["best_epoch"]
    # The best epoch is the one of the lowest validation loss (not accuracy).
    val_loss = [float(row["val_loss"]) for row in rows]
    assert metrics["best_epoch"] == 1 + val_loss.index(min(val_loss))
    assert metrics["best_val_loss"] == pytest.approx(min(val_loss), rel=1e-5)
    best_row = rows[metrics["best_epoch"] - 1]
    assert metrics["best_val_accuracy"] == pytest.approx(
        float(best_row["val_accuracy"]), rel=1e-5
    )
    for png in ("lr_finder.png", "learning_curves.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
    if schedule == "one-cycle":
        # The LR the CSV logger saw: mid-cycle after epoch 1, the floor after 2.
        peak = metrics["learning_rate"]
        rates = [float(r["learning_rate"]) for r in rows]
        assert rates[0] > peak / 25 and rates[1] == pytest.approx(
            peak / 25 / 1e4, rel=1e-3
        )
    # The schedule followed, for every schedule: the rate of every step.
    assert (tmp_path / "schedule.png").read_bytes()[:4] == b"\x89PNG"
    followed = list(csv.DictReader((tmp_path / "schedule.csv").open()))
    steps_per_epoch = len(followed) // 2
    assert steps_per_epoch > 1 and len(followed) == 2 * steps_per_epoch
    assert [int(r["epoch"]) for r in followed[::steps_per_epoch]] == [1, 2]
    assert ("momentum" in followed[0]) == (schedule == "one-cycle")
    rates = [float(r["learning_rate"]) for r in followed]
    if schedule == "none":
        # The learning rate found is the one trained with, throughout.
        assert rates == pytest.approx([metrics["learning_rate"]] * len(rates))
        best = keras.models.load_model(tmp_path / "best" / manifest["best"]["path"])
        assert float(keras.ops.convert_to_numpy(best.optimizer.learning_rate)) == (
            pytest.approx(metrics["learning_rate"])
        )
    else:
        # The rate logged after epoch 1 is the one epoch 2 started with.
        logged = float(rows[0]["learning_rate"])
        assert rates[steps_per_epoch] == pytest.approx(logged, rel=1e-5)
        assert rates[0] == pytest.approx(
            metrics["learning_rate"] / (25 if schedule == "one-cycle" else 1)
        )
    assert any((tmp_path / "tensorboard").rglob("events.out.tfevents.*"))
    per_step = read_run(tmp_path / "tensorboard" / "train").get(
        "schedule/learning_rate"
    )
    if schedule not in ("none", "performance"):
        # TensorBoard shows the rate of every step, as schedule.csv has it.
        assert [step for step, _ in per_step] == list(range(len(rates)))
        assert [value for _, value in per_step] == pytest.approx(rates, rel=1e-6)
    else:
        assert per_step is None


def test_find_lr_smoke(tmp_path, capsys):
    find_lr = load_recipe("find_lr")
    assert find_lr.main(["--smoke", "--log-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    saved = json.loads((tmp_path / "suggestions.json").read_text())
    assert f"suggested learning rate: {saved['suggestion']:.3g}" in out
    assert set(saved["suggestions"]) == {"valley", "steep", "minimum", "slide"}
    assert 1e-7 <= saved["suggestion"] <= 10
    assert (tmp_path / "lr_finder.png").read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.DictReader((tmp_path / "lr_finder.csv").open()))
    assert len(rows) == 20 and float(rows[0]["learning_rate"]) == pytest.approx(1e-7)


@pytest.mark.slow
def test_find_lr_on_a_users_npz_file(tmp_path, capsys):
    from sklearn.datasets import load_wine

    x, y = load_wine(return_X_y=True)
    np.savez(tmp_path / "wine.npz", x=x.astype("float32"), y=y)
    find_lr = load_recipe("find_lr")
    argv = ["--smoke", "--dataset", str(tmp_path / "wine.npz")]
    assert find_lr.main(argv + ["--log-dir", str(tmp_path / "run")]) == 0
    saved = json.loads((tmp_path / "run" / "suggestions.json").read_text())
    assert saved["stopped_reason"]
    args = json.loads((tmp_path / "run" / "args.json").read_text())
    assert args["dataset"].endswith("wine.npz")


@pytest.mark.slow
def test_diagnose_smoke(tmp_path, capsys):
    recipe = load_recipe("diagnose")
    assert recipe.main(["--smoke", "--log-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "report.json").read_text())
    assert [s["name"] for s in report["steps"]][:2] == ["initial_loss", "overfit"]
    assert report["steps"][0]["ok"]  # digits MLP: initial loss ~ log 10
    assert f"verdict: {report['verdict']}" in out
    assert (tmp_path / "report.md").exists()
    assert (tmp_path / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_plot_schedule_smoke(tmp_path, capsys):
    recipe = load_recipe("plot_schedule")
    assert recipe.main(["--smoke", "--log-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "one-cycle schedule: 4 epochs x 10 steps (40 steps)" in out
    assert f"plot: {tmp_path / 'schedule.png'}" in out
    assert (tmp_path / "schedule.png").read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.DictReader((tmp_path / "schedule.csv").open()))
    assert len(rows) == 40 and set(rows[0]) == {
        "step",
        "epoch",
        "learning_rate",
        "momentum",
    }


def test_train_watches_early_stopping_from_the_schedule_peak():
    from keras_recipes.commands.train import build_parser, peak_epoch

    args = build_parser().parse_args(["--epochs", "15"])
    # 1cycle over 15 x 40 steps peaks at step 0.3 * 600 - 1 = 179: epoch 4.
    assert peak_epoch(kr.OneCycle(0.1), args, 40, 0.1) == 4
    assert peak_epoch(kr.ExponentialScheduling(decay_epochs=5), args, 40, 0.1) == 0
    assert peak_epoch(kr.PerformanceScheduling("val_loss"), args, 40, 0.1) == 0
    assert peak_epoch(None, args, 40, 0.1) == 0
