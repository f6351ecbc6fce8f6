"""The `keras-recipes` command: subcommands, complete help, schedule previews."""

import configparser
import csv
import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import keras_recipes
from keras_recipes import cli

ROOT = Path(__file__).resolve().parents[1]


def run_cli(argv, capsys):
    """`cli.main(argv)` expected to exit; returns (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def squeezed(text):
    """`text` without whitespace: help is wrapped (even at hyphens)."""
    return "".join(text.split())


@pytest.mark.backend_independent
def test_help_lists_every_subcommand(capsys):
    code, out, _ = run_cli(["--help"], capsys)
    assert code == 0
    assert out.startswith("usage: keras-recipes")
    names = [name for name, _ in cli.COMMANDS]
    assert {"train", "lr-find", "diagnose", "schedule"} <= set(names)
    for name, module_name in cli.COMMANDS:
        summary = importlib.import_module(module_name).__doc__.split("\n\n")[0]
        assert f"{name} " in out
        assert squeezed(summary) in squeezed(out)


HELP_ARGVS = [["--help"], ["--version"]] + [[n, "--help"] for n, _ in cli.COMMANDS]


@pytest.mark.backend_independent
def test_help_and_version_import_no_framework():
    # Each in a fresh interpreter: Keras, TensorFlow, JAX, PyTorch,
    # KerasTuner, matplotlib and scikit-learn stay unimported (Keras alone
    # takes ~7 s with TensorFlow; docs/benchmarks.md has the times).
    script = (
        "import json, sys\n"
        "from keras_recipes.cli import main\n"
        "try:\n"
        "    main(json.loads(sys.argv[1]))\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = {'keras', 'tensorflow', 'jax', 'torch', 'keras_tuner',\n"
        "         'matplotlib', 'sklearn'}\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & heavy)))\n"
    )
    for argv in HELP_ARGVS:
        done = subprocess.run(
            [sys.executable, "-c", script, json.dumps(argv)],
            capture_output=True,
            text=True,
            check=True,
        )
        assert json.loads(done.stdout.splitlines()[-1]) == [], argv


@pytest.mark.backend_independent
def test_no_subcommand_prints_help_and_returns_2(capsys):
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert "usage: keras-recipes" in err and "schedule" in err


@pytest.mark.backend_independent
def test_version(capsys):
    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0 and out.strip() == f"keras-recipes {keras_recipes.__version__}"


@pytest.mark.backend_independent
@pytest.mark.parametrize("name, module_name", cli.COMMANDS)
def test_subcommand_help_is_complete(capsys, name, module_name):
    code, out, _ = run_cli([name, "--help"], capsys)
    assert code == 0
    assert out.startswith(f"usage: keras-recipes {name}")
    module = importlib.import_module(module_name)
    # The module docstring (with its usage examples) is the description.
    assert squeezed(module.__doc__) in squeezed(out)
    actions = [a for a in module.build_parser()._actions if a.option_strings]
    assert len(actions) > 5
    for action in actions:
        for flag in action.option_strings:
            assert flag in out
        assert action.help, f"{action.option_strings} has no help"
        assert squeezed(action.help) in squeezed(out)
        if action.default is not None and action.dest != "help":
            assert squeezed(f"(default: {action.default})") in squeezed(out)


@pytest.mark.backend_independent
def test_only_the_subcommand_run_is_imported(capsys, monkeypatch):
    monkeypatch.delitem(sys.modules, "keras_recipes.commands.diagnose", raising=False)
    assert run_cli(["schedule", "--help"], capsys)[0] == 0
    assert "keras_recipes.commands.diagnose" not in sys.modules


def read_table(out):
    """The printed table: {epoch label: (step, learning rate[, momentum])}."""
    rows = {}
    for line in out.splitlines():
        words = line.split()
        if words and (words[0].isdigit() or words[0] == "end"):
            rows[words[0]] = (int(words[1]), *map(float, words[2:]))
    return rows


def preview(tmp_path, capsys, *flags):
    """Runs `schedule --smoke` (4 epochs of 10 steps); returns table and CSV."""
    log_dir = tmp_path / "run"
    argv = ["schedule", "--smoke", *flags, "--log-dir", str(log_dir)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    table = read_table(out)
    assert list(table) == ["1", "2", "3", "4", "end"]
    assert [row[0] for row in table.values()] == [0, 10, 20, 30, 40]
    assert (log_dir / "schedule.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    steps = list(csv.DictReader((log_dir / "schedule.csv").open()))
    assert len(steps) == 4 * 10
    assert [int(r["step"]) for r in steps] == list(range(40))
    assert [int(r["epoch"]) for r in steps[::10]] == [1, 2, 3, 4]
    # The table shows the CSV's rate at each epoch's first step.
    for epoch in range(4):
        assert float(steps[10 * epoch]["learning_rate"]) == pytest.approx(
            table[str(epoch + 1)][1], rel=1e-5
        )
    args = json.loads((log_dir / "args.json").read_text())
    assert args["epochs"] == 4 and args["steps_per_epoch"] == 10
    return table, steps


def test_schedule_one_cycle(tmp_path, capsys):
    lr = 0.02
    table, steps = preview(tmp_path, capsys, "--learning-rate", str(lr))
    start, end = lr / 25, lr / 25 / 1e4  # div_factor 25, final_div_factor 1e4
    rates = {k: row[1] for k, row in table.items()}
    momenta = {k: row[2] for k, row in table.items()}
    # PyTorch's phase ends: the peak at step 0.3 * 40 - 1 = 11, the end at
    # step 39, the last of the fit.
    assert rates["1"] == pytest.approx(start, rel=1e-5)
    assert float(steps[11]["learning_rate"]) == pytest.approx(lr, rel=1e-5)
    assert float(steps[39]["learning_rate"]) == pytest.approx(end, rel=1e-4)
    assert rates["end"] == pytest.approx(end, rel=1e-4)
    assert max(float(r["learning_rate"]) for r in steps) == pytest.approx(lr, rel=1e-5)
    # Cosine fall, halfway at step (11 + 39) / 2 = 25: (lr + end) / 2.
    assert float(steps[25]["learning_rate"]) == pytest.approx((lr + end) / 2, rel=1e-4)
    assert momenta["1"] == pytest.approx(0.95)
    assert momenta["end"] == pytest.approx(0.95)
    assert float(steps[11]["momentum"]) == pytest.approx(0.85)


def test_schedule_one_cycle_linear(tmp_path, capsys):
    flags = ["--shape", "linear", "--pct-start", "0.25", "--div-factor", "10"]
    flags += ["--final-div-factor", "100", "--min-momentum", "0.8"]
    _, steps = preview(tmp_path, capsys, "--learning-rate", "0.1", *flags)
    start, end = 0.01, 0.01 / 100
    # Three linear phases ending at steps 0.25 * 40 - 1 = 9, 18 and 39.
    rates = [float(r["learning_rate"]) for r in steps]
    momenta = [float(r["momentum"]) for r in steps]
    assert [rates[s] for s in (0, 9, 18, 39)] == pytest.approx(
        [start, 0.1, start, end], rel=1e-4
    )
    assert rates[30] == pytest.approx(start + (end - start) * 12 / 21, rel=1e-4)
    assert [momenta[s] for s in (0, 9, 18, 30, 39)] == pytest.approx(
        [0.95, 0.8, 0.95, 0.95, 0.95]
    )


def test_schedule_power(tmp_path, capsys):
    flags = ["--schedule", "power", "--learning-rate", "0.1"]
    table, steps = preview(tmp_path, capsys, *flags, "--decay-epochs", "2")
    # lr / (1 + t / decay_steps) ** power, decay_steps = 2 epochs = 20 steps.
    expected = [0.1 / (1 + t / 20) for t in (0, 10, 20, 30, 40)]
    assert [row[1] for row in table.values()] == pytest.approx(expected, rel=1e-5)
    assert "momentum" not in steps[0]
    assert all(len(row) == 2 for row in table.values())


def test_schedule_power_defaults_follow_train(tmp_path, capsys):
    # train --schedule power decays with decay_epochs = epochs / 4 (1 of 4).
    table, _ = preview(tmp_path, capsys, "--schedule", "power", "--power", "2")
    expected = [0.01 / (1 + t / 10) ** 2 for t in (0, 10, 20, 30, 40)]
    assert [row[1] for row in table.values()] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("staircase", [False, True])
def test_schedule_exponential(tmp_path, capsys, staircase):
    flags = ["--schedule", "exponential", "--learning-rate", "0.1"]
    flags += ["--decay-epochs", "1", "--decay-rate", "0.5"]
    table, steps = preview(tmp_path, capsys, *flags, *(["--staircase"] * staircase))
    expected = [0.1 * 0.5**e for e in range(5)]
    assert [row[1] for row in table.values()] == pytest.approx(expected, rel=1e-5)
    mid_epoch = float(steps[15]["learning_rate"])
    assert mid_epoch == pytest.approx(0.05 if staircase else 0.1 * 0.5**1.5, rel=1e-5)


def test_schedule_piecewise(tmp_path, capsys):
    flags = ["--schedule", "piecewise", "--boundaries", "1.5", "3"]
    table, steps = preview(tmp_path, capsys, *flags, "--values", "0.3", "0.2", "0.1")
    rates = [float(r["learning_rate"]) for r in steps]
    # Epochs 1.5 and 3 begin at steps 15 and 30, which take the new rates.
    assert rates[:15] == pytest.approx([0.3] * 15)
    assert rates[15:30] == pytest.approx([0.2] * 15)
    assert rates[30:] == pytest.approx([0.1] * 10)
    assert [row[1] for row in table.values()] == pytest.approx(
        [0.3, 0.3, 0.2, 0.1, 0.1]
    )


def test_schedule_piecewise_defaults_follow_train(tmp_path, capsys):
    # train --schedule piecewise: lr, lr / 10, lr / 100 from epochs / 2, 3 / 4.
    table, _ = preview(tmp_path, capsys, "--schedule", "piecewise")
    assert [row[1] for row in table.values()] == pytest.approx(
        [0.01, 0.01, 0.001, 0.0001, 0.0001]
    )


def test_schedule_none_is_the_learning_rate_throughout(tmp_path, capsys):
    table, steps = preview(tmp_path, capsys, "--schedule", "none")
    assert {row[1] for row in table.values()} == {0.01}
    assert {float(r["learning_rate"]) for r in steps} == {0.01}


def test_the_preview_takes_the_schedule_flags_train_takes():
    # What one previews, the other trains with: the same names and options.
    def schedule_flags(name):
        parser = cli.build_parser(name)[1][name]
        actions = {a.dest: a for a in parser._actions}
        options = set(actions) - {"help", "learning_rate", "epochs", "log_dir"}
        options -= {
            "smoke",
            "seed",
            "steps_per_epoch",
            "dataset",
            "label_column",
            "model",
        }
        options -= {"suggestion", "activation", "batch_size", "patience"}
        options -= {"resume", "overwrite"}  # train's run folder
        # train's model and optimizer
        options -= {"augment", "weight_decay", "clipnorm", "global_clipnorm"}
        return options, actions["schedule"].choices

    assert schedule_flags("schedule") == schedule_flags("train")
    assert tuple(schedule_flags("train")[1]) == keras_recipes.SCHEDULE_NAMES


def test_recipe_wrapper_is_the_command(tmp_path):
    # recipes/plot_schedule.py runs the same command (and as a script).
    import runpy

    argv = [str(ROOT / "recipes" / "plot_schedule.py"), "--smoke"]
    argv += ["--schedule", "exponential", "--log-dir", str(tmp_path)]
    old_argv, sys.argv = sys.argv, argv
    try:
        with pytest.raises(SystemExit) as exit_info:
            runpy.run_path(argv[0], run_name="__main__")
    finally:
        sys.argv = old_argv
    assert exit_info.value.code == 0
    assert len(list(csv.DictReader((tmp_path / "schedule.csv").open()))) == 40


@pytest.mark.parametrize(
    "argv, message",
    [
        (["schedule", "--epochs", "0"], "argument --epochs: must be an integer >= 1"),
        (["schedule", "--steps-per-epoch", "x"], "--steps-per-epoch: must be an"),
        (["schedule", "--learning-rate", "-1"], "--learning-rate: must be a number"),
        (["schedule", "--schedule", "cyclic"], "argument --schedule: invalid choice"),
        (["schedule", "--pct-start", "1.5"], "`pct_start` must be > 0 and < 1"),
        (
            ["schedule", "--schedule", "power", "--pct-start", "0.3"],
            "--pct-start applies to --schedule one-cycle. Received: --schedule "
            "power --pct-start 0.3",
        ),
        (
            ["schedule", "--schedule", "performance"],
            "--schedule performance has no curve to preview",
        ),
        (
            ["train", "--schedule", "none", "--shape", "linear"],
            "--shape applies to --schedule one-cycle. Received: --schedule none",
        ),
        (
            ["schedule", "--min-momentum", "0.99"],
            "must be <= `max_momentum` (at the ends of the cycle). Received: "
            "min_momentum=0.99, max_momentum=0.95",
        ),
        (
            ["schedule", "--schedule", "exponential", "--decay-rate", "1.5"],
            "`decay_rate` must be > 0 and <= 1. Received: decay_rate=1.5",
        ),
        (
            ["schedule", "--schedule", "piecewise", "--boundaries", "3", "1"],
            "`boundaries` must be strictly increasing",
        ),
        (
            ["schedule", "--schedule", "piecewise", "--values", "0.1", "0.01"],
            "`values` must have one more element than `boundaries`",
        ),
        (["train", "--batch-size", "0"], "argument --batch-size: must be an integer"),
        (["lr-find", "--num-steps", "-3"], "argument --num-steps: must be an integer"),
        (["diagnose", "--units", "two"], "argument --units: must be an integer"),
        (["fly"], "argument SUBCOMMAND: invalid choice: 'fly'"),
        (["tune", "--space", "[1]"], "argument --space: must be a JSON object"),
        (["tune", "--space", '{"depth": [1]}'], "--space: `space` has unknown names"),
        (
            ["tune", "--space", '{"units": {"range": [1]}}'],
            '--space: units takes {"range": [low, high]}',
        ),
        (["tune", "--algorithm", "pso"], "argument --algorithm: invalid choice"),
        (["tune", "--factor", "1"], "argument --factor: must be an integer >= 2"),
        (["tune", "--tuner-id", "tuner0"], "--tuner-id without --oracle-ip"),
        (
            ["tune", "--tuner-id", "tuner0", "--oracle-ip", "127.0.0.1"]
            + ["--oracle-port", "1", "--overwrite"],
            "overwrite=True on a worker of a distributed search would delete",
        ),
        (["train", "--activation", "relux"], "argument --activation: invalid choice"),
        (["train", "--patience", "0"], "argument --patience: must be an integer"),
        (
            ["tune", "--oracle-ip", "127.0.0.1"],
            "--oracle-ip also needs --tuner-id, --oracle-port",
        ),
    ],
)
def test_bad_flags_exit_2_naming_the_flag(tmp_path, capsys, argv, message):
    log_dir = tmp_path / "run"
    code, _, err = run_cli([*argv, "--log-dir", str(log_dir)], capsys)
    assert code == 2
    assert message in " ".join(err.split())
    assert not log_dir.exists()  # Nothing is written on a bad flag.


@pytest.mark.slow
def test_tune_smoke(tmp_path, capsys):
    # `train --smoke` runs in test_recipes.py; here the command nobody else runs
    # in-process: a 4-trial search, its table, its best model on the test split.
    assert cli.main(["tune", "--smoke", "--log-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["trials"] == 4 and metrics["completed"] == 4
    assert f"test accuracy: {metrics['test_accuracy']:.4f}" in out
    assert f"tensorboard --logdir {tmp_path / 'tensorboard'}" in out
    assert "| trial | status | val_accuracy |" in out
    args = json.loads((tmp_path / "args.json").read_text())
    assert args["algorithm"] == "random" and "command" not in args
    best = json.loads((tmp_path / "search" / "best_hyperparameters.json").read_text())
    assert best == metrics["best_hyperparameters"]
    assert (tmp_path / "search" / "best_model.keras").exists()
    assert (tmp_path / "search.png").read_bytes()[:4] == b"\x89PNG"
    assert not any(v.startswith("KERASTUNER_") for v in os.environ)


@pytest.mark.backend_independent
def test_console_script(tmp_path):
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    scripts = parser["options.entry_points"]["console_scripts"].strip()
    assert scripts == "keras-recipes = keras_recipes.cli:main"
    script = shutil.which("keras-recipes")
    command = [script] if script else [sys.executable, "-m", "keras_recipes.cli"]
    result = subprocess.run(
        [*command, "--version"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"keras-recipes {keras_recipes.__version__}"


def bad_data(tmp_path, case):
    """A data file of the kind a user brings, broken as `case` says."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    if case == "one-class":
        rows = ["a,b,c,label"] + [f"{a},{b},{c},7" for a, b, c in x]
    elif case == "nan":
        rows = ["a,b,c,label"] + [
            f"{a},{b},{c},{i % 2}" for i, (a, b, c) in enumerate(x)
        ]
        rows[5] = "1.0,,2.0,1"  # a missing value
    elif case == "label-column":
        rows = ["a,b,c,target"] + [
            f"{a},{b},{c},{i % 2}" for i, (a, b, c) in enumerate(x)
        ]
    else:  # "too-few": a class with one sample
        rows = (
            ["a,b,c,label"]
            + [f"{a},{b},{c},{i % 2}" for i, (a, b, c) in enumerate(x)]
            + ["0,0,0,2"]
        )
    path = tmp_path / f"{case}.csv"
    path.write_text("\n".join(rows))
    return path


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("one-class", "single class (7 for all 60 samples): a classifier needs at"),
        ("nan", "hold 1 NaN or Inf values, in 1 samples (the first: sample 4)"),
        (
            "label-column",
            "has no column 'label' for the labels. Columns: a, b, c, target",
        ),
        ("too-few", "Too few samples for stratified"),
    ],
)
@pytest.mark.parametrize("command", ["train", "lr-find", "diagnose", "tune"])
@pytest.mark.backend_independent  # refused in NumPy, before any Keras work
def test_bad_data_is_one_line_exit_2_and_no_run_folder(
    tmp_path, capsys, command, case, message
):
    log_dir = tmp_path / "run"
    argv = [
        command,
        "--dataset",
        str(bad_data(tmp_path, case)),
        "--log-dir",
        str(log_dir),
    ]
    code, out, err = run_cli(argv, capsys)
    assert code == 2
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and lines[0].startswith(f"keras-recipes {command}: error:")
    assert message in " ".join(err.split())
    assert "Traceback" not in out + err
    assert not log_dir.exists()  # Refused before the run folder is made.


@pytest.mark.slow
def test_string_labels_and_label_column_train_and_save_the_classes(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 3))
    names = np.array(["setosa", "versicolor", "virginica"])[np.arange(90) % 3]
    x[:, 0] += np.arange(90) % 3  # learnable
    rows = ["species,a,b,c"] + [
        f"{n},{a},{b},{c}" for n, (a, b, c) in zip(names, x, strict=True)
    ]
    (tmp_path / "flowers.csv").write_text("\n".join(rows))
    log_dir = tmp_path / "run"
    argv = [
        "train",
        "--smoke",
        "--model",
        "mlp",
        "--dataset",
        str(tmp_path / "flowers.csv"),
        "--label-column",
        "species",
        "--log-dir",
        str(log_dir),
    ]
    assert cli.main(argv) == 0
    saved = json.loads((log_dir / "classes.json").read_text())
    assert saved == {"classes": ["setosa", "versicolor", "virginica"]}
    metrics = json.loads((log_dir / "metrics.json").read_text())
    by_class = metrics["test_accuracy_by_class"]
    assert set(by_class) == {"setosa", "versicolor", "virginica"}
    assert all(0 <= v <= 1 for v in by_class.values())
    assert "3 classes" in capsys.readouterr().out


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(
    tmp_path, capsys, monkeypatch
):
    from keras_recipes.commands import schedule

    def broken(args):
        raise RuntimeError("disk on fire\n  (second line)")

    monkeypatch.setattr(schedule, "run", broken)
    argv = ["schedule", "--log-dir", str(tmp_path / "run")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "keras-recipes schedule: error: RuntimeError: disk on fire (second line) "
        "(--debug shows the traceback)"
    ]
    with pytest.raises(RuntimeError, match="disk on fire"):
        cli.main([*argv, "--debug"])
