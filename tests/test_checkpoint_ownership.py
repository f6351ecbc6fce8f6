"""`BestCheckpoint`'s files belong to their run, and are checked before use.

A rerun into the same folder numbers its epochs from 1 again: it must never
overwrite a kept file of the earlier run (the issue's case: save_top_k=2
saved a worse model under the best model's name). Every field of the
manifest, and every kept file's size and SHA-256, is checked when read back.
"""

import json
import math

import keras
import numpy as np
import pytest

import keras_recipes as kr
from keras_recipes._internal.atomic import StateFileError, file_sha256
from tests.test_best_checkpoint import fit, manifest, small_model

# File bookkeeping: the same on every backend (the fits are tiny).
pytestmark = pytest.mark.backend_independent


def checkpoint(folder, **kwargs):
    return kr.BestCheckpoint(
        folder / "best.keras", "score", "min", save_top_k=2, **kwargs
    )


def assert_weights(path, expected):
    loaded = keras.models.load_model(path)
    for a, b in zip(loaded.weights, expected, strict=True):
        np.testing.assert_array_equal(a.numpy(), b)


def test_a_rerun_into_the_same_folder_never_overwrites_a_better_file(tmp_path):
    first = fit(small_model(), [0.1, 0.5, 0.4], checkpoint(tmp_path))
    # A new process, the same script: epochs from 1 again; epoch 1 (0.3)
    # ranks in the top 2, and its name is the first run's best file.
    rerun = checkpoint(tmp_path)
    second = fit(small_model(), [0.3, 0.2, 0.6], rerun)
    saved = manifest(tmp_path / "checkpoints.json")
    assert [(c["value"], c["path"]) for c in saved["checkpoints"]] == [
        (0.1, "best-epoch001.keras"),
        (0.2, "best-epoch002.keras"),  # run 1's epoch 2 was evicted
    ]
    first_run, second_run = saved["runs"]
    assert [c["run"] for c in saved["checkpoints"]] == [first_run, second_run]
    assert saved["run"] == second_run == rerun.run_id
    # The best file is still the first run's epoch 1, byte for byte.
    assert_weights(rerun.best_path, first[1])
    assert_weights(tmp_path / "best-epoch002.keras", second[2])
    assert sorted(p.name for p in tmp_path.glob("*.keras")) == [
        "best-epoch001.keras",
        "best-epoch002.keras",
    ]  # 0.3's file (best-epoch001-run2.keras) was evicted by 0.2


def test_a_second_fit_of_the_same_callback_is_the_same_run(tmp_path):
    callback = checkpoint(tmp_path, existing="refuse")
    fit(small_model(), [0.5, 0.4], callback)
    fit(small_model(), [0.3], callback)  # Its epoch 1 again: not refused.
    saved = manifest(tmp_path / "checkpoints.json")
    assert len(saved["runs"]) == 1
    assert [c["path"] for c in saved["checkpoints"]] == [
        "best-epoch001-run1.keras",
        "best-epoch002.keras",
    ]


def test_refuse_raises_before_anything_is_written(tmp_path):
    fit(small_model(), [0.5, 0.2], checkpoint(tmp_path))
    before = sorted((p.name, p.stat().st_mtime_ns) for p in tmp_path.iterdir())
    refused = r"earlier run \(the best is epoch 2, score=0\.2\).*existing='continue'"
    with pytest.raises(ValueError, match=refused + ".*existing='overwrite'"):
        fit(small_model(), [0.1], checkpoint(tmp_path, existing="refuse"))
    assert sorted((p.name, p.stat().st_mtime_ns) for p in tmp_path.iterdir()) == before


def test_overwrite_deletes_the_earlier_runs_files(tmp_path):
    fit(small_model(), [0.1, 0.2], checkpoint(tmp_path, save_last=True))
    rerun = checkpoint(tmp_path, existing="overwrite")
    fit(small_model(), [0.7], rerun)
    saved = manifest(tmp_path / "checkpoints.json")
    assert saved["runs"] == [rerun.run_id]
    assert [c["value"] for c in saved["checkpoints"]] == [0.7]
    assert sorted(p.name for p in tmp_path.glob("*.keras")) == ["best-epoch001.keras"]


def test_sizes_and_checksums_are_recorded(tmp_path):
    fit(small_model(), [0.5], checkpoint(tmp_path, save_last=True))
    saved = manifest(tmp_path / "checkpoints.json")
    for entry in [saved["best"], saved["last"]]:
        path = tmp_path / entry["path"]
        assert entry["size"] == path.stat().st_size
        assert entry["sha256"] == file_sha256(path)


def damage(path, how):
    data = bytearray(path.read_bytes())
    if how == "flipped":
        data[len(data) // 2] ^= 0xFF  # Same size: only the checksum sees it.
    else:
        data = data[: len(data) // 2]
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["flipped", "truncated"])
def test_a_damaged_kept_file_is_never_trusted(tmp_path, how):
    callback = checkpoint(tmp_path)
    fit(small_model(), [0.5, 0.4], callback)
    damage(tmp_path / "best-epoch002.keras", how)
    why = "SHA-256 differs" if how == "flipped" else "size is"
    named = rf"best-epoch002\.keras is damaged \(its {why}.*Delete it"
    with pytest.raises(StateFileError, match=named):
        _ = callback.best_path
    with pytest.raises(StateFileError, match=named):
        kr.callbacks.best_checkpoint_path(tmp_path)
    with pytest.raises(StateFileError, match=named):  # The restart.
        fit(small_model(), [0.9], checkpoint(tmp_path))


def test_a_deleted_kept_file_is_dropped_with_a_warning(tmp_path):
    fit(small_model(), [0.5, 0.4], checkpoint(tmp_path))
    (tmp_path / "best-epoch002.keras").unlink()
    restarted = checkpoint(tmp_path)
    with pytest.warns(UserWarning, match=r"best-epoch002\.keras.*no longer exists"):
        fit(small_model(), [0.9], restarted)
    assert [c["value"] for c in restarted.kept] == [0.5, 0.9]


def set_field(data, field, value):
    """`data` with `field` (a path such as "checkpoints.0.epoch") set."""
    *parents, last = field.split(".")
    target = data
    for key in parents:
        target = target[int(key) if key.isdigit() else key]
    target[int(last) if last.isdigit() else last] = value
    return data


# (field, bad value, what the message says): every field BestCheckpoint reads.
CORRUPTIONS = [
    ("version", 99, r"`version` is 99"),
    ("mode", "best", r"`mode` must be 'min' or 'max'"),
    ("checkpoints", {"a": 1}, r"`checkpoints` must be a list"),
    ("checkpoints.0", [1], r"`checkpoints\[0\]` must be a mapping"),
    ("checkpoints.0.epoch", -3, r"`checkpoints\[0\]`: `epoch` must be an integer"),
    ("checkpoints.1.epoch", "2", r"`checkpoints\[1\]`: `epoch` must be an integer"),
    ("checkpoints.0.value", None, r"`value` must be a finite number, got None"),
    ("checkpoints.0.value", True, r"`value` must be a finite number, got True"),
    ("checkpoints.0.path", "", r"`path` must name a file"),
    ("checkpoints.0.size", -1, r"`size` must be an integer >= 0"),
    ("checkpoints.1.sha256", "abc", r"`sha256` must be 64 hex digits"),
    ("best", None, r"`best` is not the first of `checkpoints`"),
    ("last.epoch", 0, r"`last`: `epoch` must be an integer"),
    ("runs", "abc", r"`runs` must be a list of run ids"),
]


@pytest.mark.parametrize("field, value, message", CORRUPTIONS)
def test_every_manifest_field_is_checked_on_restart(tmp_path, field, value, message):
    fit(small_model(), [0.5, 0.4], checkpoint(tmp_path, save_last=True))
    path = tmp_path / "checkpoints.json"
    path.write_text(json.dumps(set_field(manifest(path), field, value)))
    refused = rf"checkpoints\.json cannot be trusted: (.*: )?{message}"
    with pytest.raises(StateFileError, match=refused + ".*existing='overwrite'"):
        fit(small_model(), [0.3], checkpoint(tmp_path))


def test_unsorted_checkpoints_and_unparseable_json_are_refused(tmp_path):
    fit(small_model(), [0.5, 0.4], checkpoint(tmp_path))
    path = tmp_path / "checkpoints.json"
    saved = manifest(path)
    saved["checkpoints"].reverse()
    saved["best"] = saved["checkpoints"][0]
    path.write_text(json.dumps(saved))
    with pytest.raises(StateFileError, match=r"not best first for mode 'min'"):
        kr.callbacks.read_manifest(path)
    path.write_text(path.read_text()[:40])
    with pytest.raises(StateFileError, match=r"checkpoints\.json is not valid JSON"):
        fit(small_model(), [0.3], checkpoint(tmp_path))


def test_overwrite_starts_afresh_over_an_unreadable_manifest(tmp_path):
    fit(small_model(), [0.5], checkpoint(tmp_path))
    (tmp_path / "checkpoints.json").write_text("{not json")
    rerun = checkpoint(tmp_path, existing="overwrite")
    with pytest.warns(UserWarning, match=r"starting afresh"):
        fit(small_model(), [0.7], rerun)
    assert [c["value"] for c in rerun.kept] == [0.7]


def test_a_resumed_run_is_the_same_run(tmp_path):
    # ResumableBackup names the checkpoint: its state (with the run id) comes
    # back, so the restart continues that run and nothing is refused.
    first = checkpoint(tmp_path / "ckpt", existing="refuse")
    fit(small_model(), [0.5, 0.4], first)
    resumed = checkpoint(tmp_path / "ckpt", existing="refuse")
    resumed.load_state_dict(first.state_dict())
    fit(small_model(), [0.3], resumed, initial_epoch=2)
    saved = manifest(tmp_path / "ckpt" / "checkpoints.json")
    assert saved["runs"] == [first.run_id] and resumed.run_id == first.run_id
    assert [c["epoch"] for c in saved["checkpoints"]] == [3, 2]


def test_load_state_dict_checks_the_state(tmp_path):
    first = checkpoint(tmp_path)
    fit(small_model(), [0.5], first)
    state = first.state_dict()
    state["checkpoints"][0]["value"] = math.inf
    with pytest.raises(StateFileError, match=r"load_state_dict.*`value` must be"):
        checkpoint(tmp_path).load_state_dict(state)


def test_existing_is_checked_at_construction(tmp_path):
    allowed = r"`existing` must be one of 'continue', 'refuse', 'overwrite'"
    with pytest.raises(ValueError, match=allowed + ". Received: existing='keep'"):
        checkpoint(tmp_path, existing="keep")
