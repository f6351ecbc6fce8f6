"""The callbacks on 2 replicas: TensorFlow's `MirroredStrategy` over two
logical CPUs and JAX's `keras.distribution.DataParallel` over two host
devices, each in a child process (the devices are set before the backend
starts). Checked by the weights, against the same schedule compiled into
the optimizer under the same strategy."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CHILD = Path(__file__).with_name("distributed_child.py")


@pytest.mark.slow
@pytest.mark.backend_independent
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_callbacks_on_two_replicas(backend, tmp_path):
    out = tmp_path / "results.json"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, str(CHILD), backend, str(out)],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["replicas"] == 2
    for name in ("one-cycle", "power", "exponential", "piecewise"):
        # What the callback applied equals the compiled schedule...
        assert results[name] < 1e-6, name
        # ...which moved (not the compiled constant), and the optimizer has
        # its compiled rate back.
        assert results[name + "_moved"] > 0.1, name
        assert results[name + "_restored"] == pytest.approx(0.01), name
    assert results["performance"] < 1e-6
    assert results["momentum"] < 1e-5  # relative to NumPy's cycled momentum
    # The per-step TensorBoard curves: every update once, at its position,
    # with the rate and momentum the weights followed.
    assert results["curve_steps"] == [True, True]
    assert results["curve"] < 1e-5
    keras_version = tuple(int(p) for p in results["keras"].split(".")[:2])
    if backend == "tensorflow" and keras_version < (3, 12):
        # Keras 3.8's loss tracker counts each batch once per replica and
        # again at each step there: the finder refuses, naming the release.
        refused = results["finder_refused"]
        assert "cannot run under a tf.distribute strategy on Keras 3." in refused
    else:
        assert "finder_refused" not in results
        assert results["finder"] < 1e-4  # log of the rates of the sweep
        assert results["finder_losses"] < 1e-5  # Keras's own per-batch losses,
        assert results["finder_loss_scale"] < 1e-4  # the kernel before each step
        assert results["finder_restored_kernel"] == 0.0
        assert results["fit_after_finder"] == pytest.approx(
            results["fit_of_untouched_twin"], rel=1e-6
        )
    # The step kept from a 1cycle fit, run again by the next scheduled fit.
    assert results["second_scheduled_fit"] < 1e-5
    assert results["discriminative"] < 1e-6  # half the plain step, both backends
    # The best checkpoint (.keras) and the backup, saved at epoch 2's end and
    # committed in the background, hold that kernel (the fit moved it since).
    assert results["saved_kernels"] == [0.0, 0.0]
    assert results["saved_kernel_moved"] > 1e-3
