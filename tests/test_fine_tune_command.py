"""`keras-recipes fine-tune --smoke`: a base trained by `train`, fine-tuned,
its outputs checked, `predict` on its folder, and `--resume`."""

import json
import shutil

import pytest

from keras_recipes import cli

pytestmark = pytest.mark.backend_independent  # Keras's own work: any backend


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """The best checkpoint of a `train --smoke` CNN on digits."""
    folder = tmp_path_factory.mktemp("base")
    assert cli.main(["train", "--smoke", "--log-dir", str(folder / "run")]) == 0
    return next((folder / "run" / "best").glob("*.keras"))


def fine_tune(*argv):
    try:
        return cli.main(["fine-tune", *argv])
    except SystemExit as exit_info:
        return exit_info.code


@pytest.mark.slow
def test_the_smoke_run_writes_both_stages_and_predict_reads_it(base, tmp_path, capsys):
    run = tmp_path / "run"
    assert fine_tune("--smoke", "--base", str(base), "--log-dir", str(run)) == 0
    out = capsys.readouterr().out
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0 <= metrics["test_accuracy"] <= 1
    assert f"test accuracy: {metrics['test_accuracy']:.4f}" in out
    assert set(metrics["learning_rates"]) == {"head", "fine_tune"}
    assert metrics["learning_rates"]["fine_tune"] == pytest.approx(
        metrics["learning_rates"]["head"] / 10
    )
    assert metrics["epochs_run"] == {"head": 1, "fine_tune": 1}
    multipliers = list(metrics["multipliers"].values())
    assert multipliers[0] == pytest.approx(0.01) and max(multipliers) < 1
    for stage in ("head", "fine_tune"):
        assert json.loads((run / stage / "state.json").read_text())["done"]
        assert (run / stage / "best" / "checkpoints.json").exists()
    assert (run / "learning_curves.png").stat().st_size > 0
    assert (run / "schedule.png").stat().st_size > 0
    rows = (run / "schedule.csv").read_text().splitlines()
    # One row per step of both stages (1 epoch each, 1257 / 32 -> 40 steps),
    # each stage's 1cycle peaking at its own rate.
    rates = [float(row.split(",")[2]) for row in rows[1:]]
    assert len(rates) == 80
    peaks = max(rates[:40]), max(rates[40:])
    assert peaks[1] == pytest.approx(peaks[0] / 10, rel=0.05)
    assert json.loads((run / "classes.json").read_text())["classes"] == list(range(10))
    capsys.readouterr()
    assert cli.main(["predict", "--run-dir", str(run)]) == 0
    assert f"accuracy: {metrics['test_accuracy']:.4f}" in capsys.readouterr().out


@pytest.mark.slow
def test_resume_runs_only_the_unfinished_stage(base, tmp_path, capsys):
    run = tmp_path / "run"
    assert fine_tune("--smoke", "--base", str(base), "--log-dir", str(run)) == 0
    assert "head: LR range test" in capsys.readouterr().out
    head_state = (run / "head" / "state.json").read_text()
    head_history = (run / "head" / "history.json").stat().st_mtime_ns
    # As if killed in stage 2: no metrics, stage 2 not done.
    (run / "metrics.json").unlink()
    shutil.rmtree(run / "fine_tune")
    capsys.readouterr()
    assert fine_tune("--log-dir", str(run), "--resume") == 0  # the run's --base
    out = capsys.readouterr().out
    assert "LR range test" not in out  # stage 1's rate was read back
    assert (run / "head" / "state.json").read_text() == head_state
    assert (run / "head" / "history.json").stat().st_mtime_ns == head_history
    assert json.loads((run / "fine_tune" / "state.json").read_text())["done"]
    assert (run / "metrics.json").exists()
    # The run's own arguments: --smoke's 1 epoch, from args.json.
    assert (
        json.loads((run / "metrics.json").read_text())["epochs_run"]["fine_tune"] == 1
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--base", "missing.keras"], "`base` must be a keras.Model"),
        (["--base", "BASE", "--features-layer", "nope"], "no layer 'nope'"),
        (["--base", "BASE", "--lowest-multiplier", "2"], "(0, 1]"),
        (
            ["--base", "BASE", "--epochs", "-1"],
            "argument --epochs: must be an integer >= 0",
        ),
    ],
)
def test_bad_flags_are_one_line_and_leave_no_run_folder(
    base, tmp_path, capsys, argv, message
):
    run = tmp_path / "run"
    argv = [str(base) if a == "BASE" else a for a in argv]
    assert fine_tune(*argv, "--smoke", "--log-dir", str(run)) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and lines[0].startswith("keras-recipes fine-tune: error:")
    assert message in err
    assert "Traceback" not in err
    if "nope" not in message:
        assert not run.exists()


def test_unfreeze_takes_gradual_counts_and_all():
    from keras_recipes.commands.fine_tune import build_parser

    assert build_parser().parse_args(["--unfreeze", "1", "3", "all"]).unfreeze == [
        1, 3, None]  # fmt: skip
    assert build_parser().parse_args([]).unfreeze is None
