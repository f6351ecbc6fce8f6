"""keras_recipes.tuning: the hypermodel, the tuners and `search`, on real KerasTuner."""

import csv
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import keras
import keras_tuner
import numpy as np
import pytest

import keras_recipes as kr
from keras_recipes import tuning as kr_tuning
from keras_recipes._internal.atomic import StateFileError
from keras_recipes._internal.keras_internals import trial_checkpoint
from keras_recipes.data import load_digits
from keras_recipes.tuning import MLPHyperModel, search
from keras_recipes.tuning.hypermodel import OPTIMIZERS
from tests.conftest import free_port
from tests.tensorboard_events import read_hparams, read_run, run_folders

BACKEND = keras.backend.backend()
SCHEDULES = kr.SCHEDULE_NAMES
# A small space that learns digits in 2 epochs, with momentum in every trial.
SMALL_SPACE = {
    "hidden_layers": [1],
    "units": [32, 64],
    "activation": ["relu", "elu"],
    "batch_norm": False,  # 16 steps are too few for its moving statistics
    "dropout": [0.0, 0.1],
    "optimizer": ["adam", "nadam"],
    "learning_rate": [1e-2, 3e-2],
    "schedule": ["one-cycle", "exponential"],
    "batch_size": [32],
}


@pytest.fixture(scope="module")
def digits():
    data = load_digits(seed=0)
    return (data.x_train[:500], data.y_train[:500]), (data.x_val, data.y_val)


def small_search(digits, directory, **kwargs):
    (x, y), validation = digits
    options = dict(
        validation_data=validation,
        space=SMALL_SPACE,
        max_trials=3,
        epochs=2,
        directory=directory,
        project_name="search",
        seed=1,
        verbose=0,
    )
    options.update(kwargs)
    return search(x, y, **options)


@pytest.fixture(scope="module")
def finished(digits, tmp_path_factory):
    """One small random search, shared by the tests that read what it left."""
    return small_search(digits, tmp_path_factory.mktemp("tune"))


# ------------------------------------------------------------- the space


@pytest.mark.parametrize(
    "space, error, match",
    [
        ({"depth": [1]}, ValueError, r"unknown names \['depth'\]"),
        ({"activation": ["relu", "softmax"]}, ValueError, r"'softmax' is not allowed"),
        # build_mlp takes no "prelu" by name (PReLU is a layer): every trial
        # would fail.
        ({"activation": ["prelu"]}, ValueError, r"'prelu' is not allowed"),
        ({"optimizer": "lion"}, ValueError, r"'lion' is not allowed"),
        ({"units": []}, ValueError, r"`space\['units'\]` is empty"),
        ({"units": (64, 32)}, ValueError, r"needs low < high"),
        ({"schedule": ("none", "power")}, ValueError, r"a tuple is a \(low, high\)"),
        ({"dropout": 1.0}, ValueError, r"`space\['dropout'\]` must be in \[0.0, 1.0\)"),
        ({"learning_rate": 0}, ValueError, r"learning_rate.*Received: 0"),
        ({"units": [32, 32]}, ValueError, r"repeats a value"),
        ({"l2": (0.0, 1e-3)}, ValueError, r"log scale: its range needs low > 0"),
        ({"units": [0, 32]}, ValueError, r"`space\['units'\]` must be >= 1"),
        ({"units": 6.5}, TypeError, r"`space\['units'\]` takes int values"),
        ({"batch_norm": "yes"}, TypeError, r"takes bool values"),
        ([("units", 32)], TypeError, r"`space` must be a dict"),
    ],
)
def test_bad_space_is_refused_with_the_name_and_value(space, error, match):
    with pytest.raises(error, match=match):
        MLPHyperModel((64,), 10, space=space)


@pytest.mark.backend_independent
def test_weight_decay_and_clipping_are_searched_only_when_given():
    import keras_tuner

    hp = keras_tuner.HyperParameters()
    model = MLPHyperModel((64,), 10, space={"optimizer": "adam"}).build(hp)
    assert "weight_decay" not in hp.values and "global_clipnorm" not in hp.values
    assert model.optimizer.weight_decay is None
    assert model.optimizer.global_clipnorm is None
    space = {"optimizer": ["adam", "sgd"], "weight_decay": [1e-3, 1e-2],
             "global_clipnorm": 1.0}  # fmt: skip
    hp = keras_tuner.HyperParameters()
    model = MLPHyperModel((64,), 10, space=space).build(hp)
    assert hp.values["weight_decay"] == model.optimizer.weight_decay == 1e-3
    assert hp.values["global_clipnorm"] == model.optimizer.global_clipnorm == 1.0
    with pytest.raises(ValueError, match=r"`space\['weight_decay'\]`"):
        MLPHyperModel((64,), 10, space={"weight_decay": -1.0})


def test_grid_search_needs_lists_not_ranges(digits, tmp_path):
    space = dict(SMALL_SPACE, learning_rate=(1e-3, 1e-1), hidden_layers=(1, 2))
    with pytest.raises(ValueError, match=r"Grid search.*ranges: \['learning_rate'\]"):
        small_search(digits, tmp_path, algorithm="grid", space=space)


def test_val_objective_needs_validation_data(digits, tmp_path):
    (x, y), _ = digits
    with pytest.raises(ValueError, match="needs `validation_data`"):
        search(x, y, directory=tmp_path)


@pytest.mark.parametrize(
    "activation, initializer",
    [("relu", "HeNormal"), ("selu", "LecunNormal"), ("tanh", "GlorotUniform")],
)
def test_hypermodel_pairs_the_initializer_and_narrows_without_subclassing(
    activation, initializer
):
    hypermodel = MLPHyperModel(
        (64,),
        10,
        space={
            "activation": activation,
            "units": [24],
            "hidden_layers": 2,
            "optimizer": "adamw",
        },
    )
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [24, 24, 10]
    assert {type(layer.kernel_initializer).__name__ for layer in dense[:-1]} == {
        initializer
    }
    assert isinstance(model.optimizer, keras.optimizers.AdamW)
    # Fixed entries are recorded (the hparams dashboard shows them).
    assert hp.values["activation"] == activation
    assert hp.values["hidden_layers"] == 2


def test_a_tuple_is_a_range_a_list_a_choice_a_value_fixed():
    space = {"learning_rate": (1e-3, 1e-1), "hidden_layers": (1, 3)}
    space.update(units=[16, 32], dropout=0.1)
    hp = keras_tuner.HyperParameters()
    MLPHyperModel((64,), 10, space=space).build(hp)
    found = {h.name: h for h in hp.space}
    rate, depth = found["learning_rate"], found["hidden_layers"]
    assert isinstance(rate, keras_tuner.engine.hyperparameters.Float)
    assert (rate.min_value, rate.max_value, rate.sampling) == (1e-3, 1e-1, "log")
    assert isinstance(depth, keras_tuner.engine.hyperparameters.Int)
    assert (depth.min_value, depth.max_value, depth.sampling) == (1, 3, "linear")
    assert isinstance(found["units"], keras_tuner.engine.hyperparameters.Choice)
    assert found["units"].values == [16, 32]
    assert isinstance(found["dropout"], keras_tuner.engine.hyperparameters.Fixed)


def test_batch_norm_is_only_searched_for_non_selu_activations():
    hypermodel = MLPHyperModel((64,), 10, space={"activation": ["relu", "selu"]})
    hp = keras_tuner.HyperParameters()
    hypermodel.build(hp)  # registers the space with its defaults: relu first
    assert hp.is_active("batch_norm")
    hp.values["activation"] = "selu"
    model = hypermodel.build(hp)
    assert not hp.is_active("batch_norm")
    assert not any(
        isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers
    )


@pytest.mark.parametrize(
    "optimizer, schedule",
    [(name, "one-cycle") for name in OPTIMIZERS]
    + [("adam", name) for name in SCHEDULES if name != "one-cycle"],
)
def test_every_optimizer_and_schedule_trains(digits, optimizer, schedule):
    (x, y), validation = digits
    hypermodel = MLPHyperModel(
        (64,),
        10,
        space={
            "optimizer": optimizer,
            "schedule": schedule,
            "learning_rate": 1e-2,
            "hidden_layers": 1,
            "units": [32],
            "batch_size": [64],
        },
    )
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    history = hypermodel.fit(
        hp, model, x[:128], y[:128], validation_data=validation, epochs=2, verbose=0
    ).history
    assert np.isfinite(history["loss"]).all()
    rates = history["learning_rate"]
    if schedule == "none":
        assert rates == pytest.approx([1e-2, 1e-2])
    elif schedule == "one-cycle":  # mid-cycle after epoch 1, the floor after 2
        assert rates[0] > 1e-2 / 25 and rates[1] == pytest.approx(1e-2 / 25 / 1e4)
    elif schedule != "performance":  # may or may not cut in 2 epochs
        assert rates[-1] < rates[0]
    # The momentum is logged wherever the optimizer has one; 1cycle cycles it
    # where it can (back at its maximum, 0.95, at the end of the cycle).
    momenta = history.get("momentum")
    assert (momenta is None) == (optimizer == "rmsprop")
    cycles = optimizer in ("momentum", "nesterov", "adam", "adamw") or (
        optimizer == "nadam" and BACKEND != "jax"
    )
    if schedule == "one-cycle" and cycles:
        assert momenta[-1] == pytest.approx(0.95)
    elif momenta is not None:
        assert momenta == pytest.approx([0.0 if optimizer == "sgd" else 0.9] * 2)


# ------------------------------------------------------------- the search


@pytest.mark.slow
def test_search_summary_table_and_best_model(finished, digits):
    _, (x_val, y_val) = digits
    assert len(finished.trials) == 3
    assert [row["status"] for row in finished.trials] == ["COMPLETED"] * 3
    scores = [row["score"] for row in finished.trials]
    assert scores == sorted(scores, reverse=True)
    for row in finished.trials:
        assert row["epochs"] == 2 and row["seconds"] > 0
        assert set(SMALL_SPACE) <= set(row["hyperparameters"])
    best = finished.trials[0]
    assert finished.best_hyperparameters == best["hyperparameters"]
    saved = json.loads((finished.project_dir / "best_hyperparameters.json").read_text())
    assert saved == best["hyperparameters"]
    # The best model is the best epoch of the best trial: it scores the
    # objective KerasTuner recorded.
    model = keras.models.load_model(finished.best_model_path)
    _, accuracy = model.evaluate(x_val, y_val, verbose=0)
    assert accuracy == pytest.approx(best["score"], abs=1e-6)
    assert best["score"] > 0.5  # digits after 2 epochs: chance is 0.1
    table = finished.table()
    assert table.splitlines()[0].startswith("| trial | status | val_accuracy |")
    assert len(table.splitlines()) == 2 + 3
    assert (finished.project_dir / "summary.md").read_text().strip() == table
    csv_lines = (finished.project_dir / "summary.csv").read_text().splitlines()
    assert len(csv_lines) == 4 and csv_lines[0].startswith("trial_id,status,score")


def test_every_trial_has_its_tensorboard_run_with_scalars_and_hparams(finished):
    log_dir = finished.log_dir
    runs = run_folders(log_dir)
    for row in finished.trials:
        trial = row["trial_id"]
        for sub in ("train", "validation"):
            assert f"{trial}/execution0/{sub}" in runs
        train = read_run(log_dir / trial / "execution0" / "train")
        validation = read_run(log_dir / trial / "execution0" / "validation")
        assert [step for step, _ in train["epoch_loss"]] == [0, 1]
        assert len(validation["epoch_accuracy"]) == 2
        # The objective in TensorBoard is the one KerasTuner scored.
        best = max(value for _, value in validation["epoch_accuracy"])
        assert best == pytest.approx(row["score"], abs=1e-6)
        # Learning rate and momentum per epoch, as scheduled.
        rates = [value for _, value in train["epoch_learning_rate"]]
        assert len(rates) == 2 and rates[1] < rates[0]
        momenta = [value for _, value in train["epoch_momentum"]]
        assert len(momenta) == 2 and all(0.8 < m < 1 for m in momenta)
        # The hparams session of this trial, written once (KerasTuner writes
        # it on TensorFlow, we do on JAX and PyTorch).
        session = read_hparams(log_dir / trial / "execution0")
        assert session["group_name"] == trial
        assert session["session_start"].keys() == row["hyperparameters"].keys()
        for name, value in row["hyperparameters"].items():
            assert session["session_start"][name] == pytest.approx(value)
        assert session["session_count"] == 1
    # The experiment: the space's hyperparameters, the objective first.
    experiment = read_hparams(log_dir)["experiment"]
    assert set(experiment["hparams"]) == set(finished.trials[0]["hyperparameters"])
    assert experiment["metrics"][0] == ("validation", "epoch_accuracy")


class FailFirstTrial(keras.callbacks.Callback):
    """Raises in the first trial only (state in a file: KerasTuner copies us)."""

    def __init__(self, marker):
        super().__init__()
        self.marker = Path(marker)

    def on_train_begin(self, logs=None):
        if not self.marker.exists():
            self.marker.write_text("failed once")
            raise RuntimeError("planned failure of the first trial")


# KerasTuner's bookkeeping with our mixin: the same on every backend.
@pytest.mark.backend_independent
@pytest.mark.slow
def test_a_failing_trial_is_recorded_and_the_search_goes_on(digits, tmp_path, capsys):
    capsys.readouterr()
    # An Int range in the space: its `values` is a generator, which the
    # progress line once took the len() of (every default-space search and
    # every distributed worker died at the first trial's end).
    result = small_search(
        digits,
        tmp_path,
        space={**SMALL_SPACE, "hidden_layers": (1, 2)},
        callbacks=[FailFirstTrial(tmp_path / "marker")],
    )
    # One progress line per trial, whatever the fit verbosity (0 here).
    lines = [
        line for line in capsys.readouterr().out.splitlines()
        if line.startswith("trial ")
    ]  # fmt: skip
    assert [line.split(" (")[0] for line in lines] == [
        "trial 1/3", "trial 2/3", "trial 3/3"
    ]  # fmt: skip
    by_id = {row["trial_id"]: row for row in result.trials}
    best = max(
        (row for row in result.trials if row["status"] == "COMPLETED"),
        key=lambda row: row["score"],
    )
    for line in lines:
        trial_id = line.split("(")[1].split(")")[0]
        row = by_id[trial_id]
        if row["status"] == "FAILED":
            assert "): failed, best" in line
        else:
            assert f"val_accuracy {row['score']:.4g}" in line
        assert "learning_rate=" in line and "elapsed" in line
    assert f"best {best['score']:.4g} ({best['trial_id']})" in lines[-1]
    assert "ETA 0 s" in lines[-1]
    statuses = [row["status"] for row in result.trials]
    assert statuses.count("COMPLETED") == 2 and len(statuses) == 3
    failed = result.trials[-1]
    assert failed["status"] == "FAILED" and failed["score"] is None
    assert failed["message"] == "RuntimeError: planned failure of the first trial"
    assert result.best_model_path.exists()
    csv_text = (result.project_dir / "summary.csv").read_text()
    assert "planned failure of the first trial" in csv_text


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_damaged_checkpoint_of_the_best_trial_is_named_not_saved_as_best(
    finished, damage
):
    # The trial checkpoint is KerasTuner's weights file; h5 has no checksum
    # of the weights, so a flipped byte would load: the digest catches it.
    checkpoint = trial_checkpoint(finished.tuner, finished.trials[0]["trial_id"])
    original = checkpoint.read_bytes()
    best_model = finished.best_model_path.read_bytes()
    damaged = bytearray(original)
    if damage == "flip":
        damaged[len(damaged) // 2] ^= 0xFF
    else:
        del damaged[len(damaged) // 2 :]
    checkpoint.write_bytes(bytes(damaged))
    try:
        why = "SHA-256 differs" if damage == "flip" else "size is"
        with pytest.raises(StateFileError, match=f"{checkpoint}.*damaged.*{why}"):
            kr_tuning.summarize(finished.tuner)
    finally:
        checkpoint.write_bytes(original)
    assert finished.best_model_path.read_bytes() == best_model
    assert kr_tuning.summarize(finished.tuner).best_model_path.exists()


@pytest.mark.slow
def test_a_diverged_trial_is_never_the_best(digits, tmp_path):
    # A learning rate of 1e30 makes the loss NaN: that trial must rank last,
    # with no checkpoint, whatever KerasTuner's own ordering does with NaN.
    space = dict(SMALL_SPACE, units=32, activation="relu", dropout=0.0, l2=0.0)
    space.update(optimizer="adam", schedule="none", learning_rate=[1e30, 1e-2])
    result = small_search(
        digits, tmp_path, algorithm="grid", objective="val_loss", space=space
    )
    assert [row["hyperparameters"]["learning_rate"] for row in result.trials] == [
        1e-2,
        1e30,
    ]
    diverged = result.trials[-1]
    assert diverged["score"] is None or not np.isfinite(diverged["score"])
    assert diverged["epochs"] == 1  # our EarlyStopping stops at the first NaN
    assert result.best_hyperparameters["learning_rate"] == 1e-2
    assert not trial_checkpoint(result.tuner, diverged["trial_id"]).exists()


@pytest.mark.slow
def test_your_tensorboard_callback_is_used_not_doubled(digits, tmp_path):
    board = keras.callbacks.TensorBoard(str(tmp_path / "board"), write_graph=False)
    result = small_search(digits, tmp_path, max_trials=1, epochs=1, callbacks=[board])
    assert result.log_dir == tmp_path / "board"
    assert read_hparams(tmp_path / "board")["experiment"]["metrics"]
    trial = result.trials[0]["trial_id"]
    assert read_hparams(tmp_path / "board" / trial / "execution0")["session_count"] == 1
    assert not (result.project_dir / "tensorboard").exists()
    with pytest.raises(ValueError, match="`log_dir` or a `keras.callbacks.Tensor"):
        small_search(digits, tmp_path, callbacks=[board], log_dir=tmp_path / "x")


class Interrupt(keras.callbacks.Callback):
    """Stands for Ctrl-C in the middle of the second trial; logs every fit."""

    def __init__(self, folder):
        super().__init__()
        self.folder = Path(folder)

    def on_train_begin(self, logs=None):
        with open(self.folder / "fits.log", "a") as log:
            log.write("fit\n")

    def on_epoch_end(self, epoch, logs=None):
        fits = (self.folder / "fits.log").read_text().count("fit")
        if fits == 2 and not (self.folder / "interrupted").exists():
            (self.folder / "interrupted").write_text("")
            raise KeyboardInterrupt


# KerasTuner's bookkeeping with our mixin: the same on every backend.
@pytest.mark.backend_independent
@pytest.mark.slow
def test_an_interrupted_search_resumes_without_repeating_finished_trials(
    digits, tmp_path
):
    callbacks = [Interrupt(tmp_path), kr.NaNGuard(), kr.EarlyStopping(patience=1)]
    with pytest.raises(KeyboardInterrupt):
        small_search(digits, tmp_path, callbacks=callbacks)
    first = tmp_path / "search" / "trial_0" / "record.json"
    record = first.read_text()
    # Our callbacks were copied for each trial; the user's stay unused.
    assert callbacks[2].model is None and callbacks[2].best is None
    result = small_search(digits, tmp_path, callbacks=callbacks)
    fits = (tmp_path / "fits.log").read_text().count("fit")
    assert fits == 2 + 2  # the interrupted trial again, then the third
    assert first.read_text() == record  # trial 0 not run again
    assert [row["status"] for row in result.trials] == ["COMPLETED"] * 3
    assert sorted(row["trial_id"] for row in result.trials) == ["0", "1", "2"]
    # The trial that ran again has one TensorBoard session, not two.
    for trial in ("0", "1", "2"):
        run = tmp_path / "search" / "tensorboard" / trial / "execution0"
        assert read_hparams(run)["session_count"] == 1
        steps = [step for step, _ in read_run(run / "train")["epoch_loss"]]
        assert steps == [0, 1]
    # The rerun trial started over: a record of one execution from epoch 0.
    rerun = json.loads((tmp_path / "search" / "trial_1" / "record.json").read_text())
    assert rerun["executions"] == [
        {**rerun["executions"][0], "epochs": 2, "initial_epoch": 0}
    ]


class AlwaysFail(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        raise RuntimeError("this trial cannot train")


@pytest.mark.slow
def test_when_keras_tuner_gives_up_the_summary_still_says_why(digits, tmp_path):
    with pytest.raises(RuntimeError, match="consecutive failures|failed"):
        small_search(digits, tmp_path, max_trials=5, callbacks=[AlwaysFail()])
    with open(tmp_path / "search" / "summary.csv") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 3 and {row["status"] for row in rows} == {"FAILED"}
    assert {row["message"] for row in rows} == {"RuntimeError: this trial cannot train"}


@pytest.mark.slow
def test_overwrite_starts_the_tensorboard_folder_anew(digits, tmp_path):
    for _ in range(2):
        result = small_search(digits, tmp_path, max_trials=1, epochs=1, overwrite=True)
    run = result.log_dir / result.trials[0]["trial_id"] / "execution0"
    assert read_hparams(run)["session_count"] == 1


@pytest.mark.slow
def test_without_validation_data_performance_scheduling_watches_the_loss(
    digits, tmp_path
):
    (x, y), _ = digits
    space = dict(SMALL_SPACE, schedule="performance")
    result = search(
        x, y, objective="loss", space=space, max_trials=1, epochs=2,
        directory=tmp_path, verbose=0,
    )  # fmt: skip
    assert result.trials[0]["status"] == "COMPLETED"
    assert result.direction == "min" and result.trials[0]["score"] > 0


@pytest.mark.slow
def test_two_executions_per_trial_each_get_a_run_and_a_record(digits, tmp_path):
    result = small_search(
        digits, tmp_path, max_trials=1, epochs=1, executions_per_trial=2
    )
    row = result.trials[0]
    assert row["epochs"] == 2  # 1 epoch in each execution
    for execution in (0, 1):
        run = result.log_dir / row["trial_id"] / f"execution{execution}"
        assert read_hparams(run)["session_count"] == 1
        assert len(read_run(run / "validation")["epoch_accuracy"]) == 1


class FakeTrial:
    def __init__(self, trial_id, score, status="COMPLETED"):
        self.trial_id, self.score, self.status = trial_id, score, status
        self.message = None
        self.hyperparameters = keras_tuner.HyperParameters()
        self.hyperparameters.Fixed("units", int(trial_id) + 1)


class FakeTuner:
    """What `summarize` reads of a tuner: an oracle's trials and folders."""

    def __init__(self, folder, direction, scores):
        self.project_dir = str(folder)
        self.oracle = type("Oracle", (), {})()
        self.oracle.objective = keras_tuner.Objective("val_metric", direction)
        self.oracle.trials = {
            str(i): FakeTrial(str(i), score) for i, score in enumerate(scores)
        }

    def get_trial_dir(self, trial_id):
        return str(Path(self.project_dir) / f"trial_{trial_id}")

    def _get_checkpoint_fname(self, trial_id):  # KerasTuner's name
        return str(Path(self.get_trial_dir(trial_id)) / "checkpoint.weights.h5")


@pytest.mark.parametrize(
    "direction, ranked",
    [("max", ["2", "4", "0", "1", "3"]), ("min", ["0", "4", "2", "1", "3"])],
)
def test_summary_ranks_by_the_objective_direction_never_nan_first(
    tmp_path, direction, ranked
):
    scores = [0.5, float("nan"), 0.9, None, 0.7]
    result = kr_tuning.summarize(FakeTuner(tmp_path, direction, scores))
    assert [row["trial_id"] for row in result.trials] == ranked
    assert result.best_hyperparameters == {"units": int(ranked[0]) + 1}
    assert result.direction == direction
    assert result.best_model_path is None  # no checkpoints in this fake project
    everything_failed = FakeTuner(tmp_path, direction, [float("nan"), None])
    assert kr_tuning.summarize(everything_failed).best_hyperparameters == {}


# KerasTuner's bookkeeping with our mixin: the same on every backend.
@pytest.mark.backend_independent
@pytest.mark.slow
def test_hyperband_continues_trials_and_records_their_start_epoch(digits, tmp_path):
    # max_epochs 2, factor 2: a bracket of 1-epoch trials whose best goes on
    # to epoch 2 from its weights, and a bracket of 2-epoch trials.
    space = dict(SMALL_SPACE, schedule="one-cycle")
    result = small_search(
        digits, tmp_path, algorithm="hyperband", epochs=2, factor=2, space=space
    )
    records = [
        json.loads(
            (
                result.project_dir / f"trial_{row['trial_id']}" / "record.json"
            ).read_text()
        )
        for row in result.trials
        if row["status"] == "COMPLETED"
    ]
    starts = [r["executions"][0]["initial_epoch"] for r in records]
    assert 0 in starts and max(starts) > 0  # Hyperband resumed some trials
    ids = {row["trial_id"] for row in result.trials}
    continued = [row for row in result.trials if row["continues"] is not None]
    assert continued and all(row["continues"] in ids for row in continued)
    # A continued trial trains only its remaining epochs, scheduled.
    for record in records:
        execution = record["executions"][0]
        assert execution["initial_epoch"] + execution["epochs"] <= 2
    # Every trial's 1cycle spans max_epochs (2): after epoch 1 the rate is
    # mid-cycle (a 1-epoch trial does not anneal to the floor), after epoch 2
    # at the floor, also for a trial continued from another's weights.
    for row in result.trials:
        peak = row["hyperparameters"]["learning_rate"]
        train = read_run(result.log_dir / row["trial_id"] / "execution0" / "train")
        for step, rate in train["epoch_learning_rate"]:
            if step == 0:
                assert rate > peak / 25
            else:
                assert rate == pytest.approx(peak / 25 / 1e4, rel=1e-3)


def test_seed_zero_seeds_the_oracle(tmp_path):
    # KerasTuner takes seed=0 for "no seed" and draws one at random.
    hypermodel = MLPHyperModel((64,), 10)
    seeds = {
        kr_tuning.make_tuner(
            "random", hypermodel, directory=tmp_path, project_name=f"p{i}", seed=0
        ).oracle.seed
        for i in range(3)
    }
    assert len(seeds) == 1


# KerasTuner's bookkeeping with our mixin: the same on every backend.
@pytest.mark.backend_independent
@pytest.mark.slow
def test_grid_search_runs_each_combination_once(digits, tmp_path):
    space = dict(SMALL_SPACE, units=32, activation="relu", dropout=0.0, l2=0.0)
    space.update(
        optimizer="adam", learning_rate=[3e-3, 1e-2], schedule=["one-cycle", "none"]
    )
    result = small_search(
        digits, tmp_path, algorithm="grid", max_trials=10, space=space
    )
    combinations = {
        (row["hyperparameters"]["learning_rate"], row["hyperparameters"]["schedule"])
        for row in result.trials
    }
    assert len(result.trials) == 4 and len(combinations) == 4


# ------------------------------------------------- a real TensorBoard server


def post_json(url, body):
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_a_tensorboard_server_shows_the_runs_scalars_and_hparams(finished, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    trials = {row["trial_id"]: row for row in finished.trials}
    groups_request = {
        "experimentName": "",
        "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_RUNNING"],
        "colParams": [{"metric": {"group": "validation", "tag": "epoch_accuracy"}}]
        + [{"hparam": name} for name in finished.best_hyperparameters],
        "startIndex": 0,
        "sliceSize": 100,
    }
    command = [
        sys.executable,
        "-m",
        "tensorboard.main",
        f"--logdir={finished.log_dir}",
        "--host=127.0.0.1",
        f"--port={port}",
        "--load_fast=false",
        "--reload_interval=1",
    ]
    with open(tmp_path / "tensorboard.log", "w") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        groups = []
        while time.monotonic() < deadline and len(groups) < len(trials):
            time.sleep(1)
            try:
                groups = post_json(
                    f"{url}/data/plugin/hparams/session_groups", groups_request
                )["sessionGroups"]
            except (OSError, KeyError, ValueError):  # not up, or still loading
                groups = []
        runs = get_json(f"{url}/data/runs")
        tags = get_json(f"{url}/data/plugin/scalars/tags")
        experiment = post_json(
            f"{url}/data/plugin/hparams/experiment", {"experimentName": ""}
        )
    finally:
        server.kill()
        server.wait()
    assert len(groups) == len(trials), (tmp_path / "tensorboard.log").read_text()
    for trial in trials:
        assert f"{trial}/execution0/train" in runs
        assert {"epoch_loss", "epoch_learning_rate", "epoch_momentum"} <= set(
            tags[f"{trial}/execution0/train"]
        )
        assert "epoch_accuracy" in tags[f"{trial}/execution0/validation"]
    # The HParams tab: one group per trial, its hyperparameters, and the
    # objective (TensorBoard shows the last epoch's value).
    for group in groups:
        row = trials[group["name"]]
        for name, value in row["hyperparameters"].items():
            assert group["hparams"][name] == pytest.approx(value)
        (objective,) = [
            m for m in group["metricValues"] if m["name"]["tag"] == "epoch_accuracy"
        ]
        last = read_run(finished.log_dir / group["name"] / "execution0" / "validation")
        assert objective["value"] == pytest.approx(last["epoch_accuracy"][-1][1])
    metric_names = [m["name"] for m in experiment["metricInfos"]]
    assert metric_names[0] == {"group": "validation", "tag": "epoch_accuracy"}
    assert {h["name"] for h in experiment["hparamInfos"]} == set(
        finished.best_hyperparameters
    )


# ------------------------------------ callbacks KerasTuner copies for each trial

PROBE = (np.linspace(-1, 1, 64 * 8, dtype="float32").reshape(64, 8), np.arange(64) % 3)
COPIED_CALLBACKS = {
    "OneCycle": lambda tmp: kr.OneCycle(0.05),
    "PowerScheduling": lambda tmp: kr.PowerScheduling(decay_epochs=1),
    "ExponentialScheduling": lambda tmp: kr.ExponentialScheduling(decay_epochs=2),
    "PiecewiseConstantScheduling": lambda tmp: kr.PiecewiseConstantScheduling(
        [1, 2], [1e-2, 5e-3, 1e-3]
    ),
    "PerformanceScheduling": lambda tmp: kr.PerformanceScheduling(
        "loss", factor=0.5, patience=1, min_delta=10.0
    ),
    "EarlyStopping": lambda tmp: kr.EarlyStopping("loss", patience=1, min_delta=0.5),
    "NaNGuard": lambda tmp: kr.NaNGuard(verbose=0),
    "GradientMonitor": lambda tmp: kr.GradientMonitor(PROBE, every=2, log_dir=tmp),
    "ActivationMonitor": lambda tmp: kr.ActivationMonitor(PROBE[0]),
}


@pytest.mark.parametrize("name", sorted(COPIED_CALLBACKS))
@pytest.mark.slow
def test_a_used_callback_copied_for_a_trial_starts_fresh(name, tmp_path):
    """KerasTuner deep-copies the callbacks it is given for every trial; a copy
    of an instance already used in a fit must train exactly like a new one.
    (`BestCheckpoint` and `ResumableBackup` resume from their folder by
    design; `search` gives every trial its own `BestCheckpoint`.)"""
    import copy

    x, y = PROBE

    def fit(callback):
        keras.utils.set_random_seed(7)
        model = keras.Sequential(
            [
                keras.Input((8,)),
                keras.layers.Dense(16, activation="relu"),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile(
            keras.optimizers.SGD(0.02, momentum=0.9), "sparse_categorical_crossentropy"
        )
        history = model.fit(
            x,
            y,
            batch_size=16,
            epochs=3,
            shuffle=False,
            verbose=0,
            callbacks=[callback],
        ).history
        return history, model.get_weights()

    used = COPIED_CALLBACKS[name](tmp_path / "a")
    first_history, first_weights = fit(used)
    clone = copy.deepcopy(used)
    clone_history, clone_weights = fit(clone)
    assert clone_history.keys() == first_history.keys()
    for key in first_history:
        np.testing.assert_allclose(clone_history[key], first_history[key], rtol=1e-5)
    for got, expected in zip(clone_weights, first_weights, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.backend_independent
def test_search_progress_lines():
    from keras_recipes.tuning.progress import SearchProgress

    lines = []
    progress = SearchProgress("val_loss", "min", total=4, print_fn=lines.append)
    progress._start -= 30  # 30 s into the search at the first trial's end
    progress.trial_ended("00", "COMPLETED", 0.5, {"units": 32, "lr": 0.00123})
    progress.trial_ended("01", "COMPLETED", 0.7, {"units": 64, "lr": 0.01})
    progress.trial_ended("02", "FAILED", None, {"units": 64, "lr": 0.1})
    assert lines[0].startswith("trial 1/4 (00): val_loss 0.5, best 0.5 (00)")
    assert "units=32 lr=0.00123" in lines[0]
    assert "ETA 1.5 min" in lines[0]  # 30 s per trial, 3 left
    assert lines[1].startswith("trial 2/4 (01): val_loss 0.7, best 0.5 (00)")
    assert lines[2].startswith("trial 3/4 (02): failed, best 0.5 (00)")
    hyperband = SearchProgress("val_accuracy", "max", print_fn=lines.append)
    line = hyperband.trial_ended("07", "COMPLETED", 0.9, {"tuner/epochs": 2})
    assert line.startswith("trial 1 (07): val_accuracy 0.9, best 0.9 (07) |  |")
    assert "ETA" not in line


def test_varying_hyperparameters_leave_out_the_fixed_ones():
    from keras_recipes.tuning.tuners import _varying

    hp = keras_tuner.HyperParameters()
    hp.Int("layers", 1, 3)
    hp.Int("one_int", 2, 2)
    hp.Float("rate", 1e-3, 1e-1, sampling="log")
    hp.Choice("units", [32, 64])
    hp.Choice("one_choice", [7])
    hp.Fixed("fixed", 5)
    hp.Boolean("flag")
    assert set(_varying(hp)) == {"layers", "rate", "units", "flag"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_trials": 2.5}, "`max_trials` must be an integer"),
        ({"patience": 0}, "`patience` must be >= 1"),
        ({"factor": 1}, "`factor` must be >= 2"),
        ({"seed": -1}, "`seed` must be >= 0"),
        ({"overwrite": "yes"}, "`overwrite` must be True or False"),
        ({"progress": 1}, "`progress` must be True or False"),
        ({"directory": None}, "`directory` must be a path"),
        ({"project_name": ""}, "`project_name` must be a non-empty folder name"),
    ],
)
def test_search_checks_its_arguments_before_any_trial(tmp_path, kwargs, message):
    x = np.zeros((8, 3), "float32")
    options = {"directory": tmp_path, "validation_data": (x, np.zeros(8)), **kwargs}
    with pytest.raises((TypeError, ValueError), match=message):
        search(x, np.arange(8) % 2, **options)
    assert not (tmp_path / "search").exists()


def test_search_refuses_labels_that_are_not_class_ids(tmp_path):
    # Labels 1..3 would silently make 4 softmax outputs.
    x = np.zeros((9, 3), "float32")
    with pytest.raises(ValueError, match=r"class ids 0..C-1.*Received: labels 1, 2, 3"):
        search(x, np.arange(9) % 3 + 1, validation_data=(x, np.zeros(9)),
               directory=tmp_path)  # fmt: skip
