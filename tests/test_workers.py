"""Multi-worker runs: only the chief writes the shared files.

Every worker of a `MultiWorkerMirroredStrategy` run executes the same
callbacks over the same folders; `TF_CONFIG` says which one is the chief
(TensorFlow's rule). The callbacks are run here in one process with the
`TF_CONFIG` of the chief and of another worker. (Keras 3.15's own `fit`
fails under `MultiWorkerMirroredStrategy`, keras-team/keras#20585, so no
real cluster is started: see the README.)
"""

import json

import keras
import numpy as np
import pytest

import keras_recipes as kr
from keras_recipes._internal.workers import is_chief
from tests.conftest import FeedMetric, ones, probe_model


def tf_config(kind, index, cluster=("worker",)):
    return json.dumps(
        {
            "cluster": {name: [f"127.0.0.1:{2000 + i}" for i in range(2)]
                        for name in cluster},
            "task": {"type": kind, "index": index},
        }
    )  # fmt: skip


@pytest.mark.backend_independent
@pytest.mark.parametrize(
    "config, chief",
    [
        (None, True),
        (tf_config("worker", 0), True),
        (tf_config("worker", 1), False),
        (tf_config("worker", 0, cluster=("chief", "worker")), False),
        (tf_config("chief", 0, cluster=("chief", "worker")), True),
        (tf_config("evaluator", 0, cluster=("chief", "worker")), False),
        (json.dumps({"cluster": {}}), True),
    ],
)
def test_the_chief_is_tensorflows(config, chief):
    assert is_chief({} if config is None else {"TF_CONFIG": config}) is chief


@pytest.mark.backend_independent
def test_a_broken_tf_config_is_an_error_naming_it():
    with pytest.raises(ValueError, match="TF_CONFIG environment variable is not JSON"):
        is_chief({"TF_CONFIG": "{worker"})
    with pytest.raises(ValueError, match="must be a JSON object"):
        is_chief({"TF_CONFIG": "[1, 2]"})


@pytest.mark.parametrize("index", [0, 1])
def test_only_the_chief_writes_checkpoints_backups_and_runs(
    tmp_path, monkeypatch, index
):
    monkeypatch.setenv("TF_CONFIG", tf_config("worker", index))
    model = probe_model(keras.optimizers.SGD(0.1))
    best = kr.BestCheckpoint(tmp_path / "best" / "model.keras", save_top_k=1)
    backup = kr.ResumableBackup(
        tmp_path / "backup", callbacks={"best": best}, delete_on_completion=False
    )
    x, y = ones(8)
    monitor = kr.GradientMonitor((x, y), every=1, log_dir=tmp_path / "tensorboard")
    model.fit(
        x, y, batch_size=4, epochs=3, verbose=0,
        # Improving every epoch: a save and an eviction each time.
        callbacks=[FeedMetric([3.0, 2.0, 1.0], "val_loss"), best, backup, monitor],
    )  # fmt: skip
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    if index == 0:
        assert "best/checkpoints.json" in written
        assert "best/model-epoch003.keras" in written
        assert "best/model-epoch001.keras" not in written  # evicted
        assert "backup/state.json" in written
        assert any(name.startswith("tensorboard/") for name in written)
    else:
        assert written == []
    # Every worker keeps the same account of the run.
    assert [c["epoch"] for c in best.kept] == [3]
    assert len(monitor.history) == 6
    np.testing.assert_allclose(model.layers[0].kernel.numpy(), [[-0.6]], rtol=1e-6)


@pytest.mark.backend_independent
def test_another_worker_removes_nothing_of_the_chiefs(tmp_path, monkeypatch):
    from keras_recipes._internal import atomic

    kept = tmp_path / "model-epoch001.keras"
    stale = tmp_path / f"{atomic.PREFIX}model.123.keras"
    kept.write_text("the chief's"), stale.write_text("the chief's, being written")
    monkeypatch.setenv("TF_CONFIG", tf_config("worker", 1))
    atomic.remove(kept)
    atomic.remove_stale(tmp_path)
    assert kept.exists() and stale.exists()
    monkeypatch.setenv("TF_CONFIG", tf_config("worker", 0))
    atomic.remove(kept)
    atomic.remove_stale(tmp_path)
    assert not kept.exists() and not stale.exists()
