"""Child process of tests/test_distribution.py: the callbacks on 2 replicas.

    python tests/distributed_child.py tensorflow OUT.json   # MirroredStrategy
    python tests/distributed_child.py jax OUT.json          # DataParallel

Two logical CPU devices must be configured before TensorFlow or JAX start,
so this runs in its own process. It trains the probe model of
tests/conftest.py (gradient 1 per replica) under the strategy and writes the
largest differences between what the optimizer applied and the reference,
for the test to assert on.
"""

import faulthandler
import json
import os
import sys
from pathlib import Path

# A crash in native code (seen once: SIGSEGV under TensorFlow's
# MirroredStrategy, in a full suite run; not reproduced in 15 runs) prints
# the Python stack to stderr, which the test's message shows.
faulthandler.enable()
BACKEND, OUT = sys.argv[1], sys.argv[2]
os.environ["KERAS_BACKEND"] = BACKEND
if BACKEND == "jax":
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import contextlib  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_recipes as kr  # noqa: E402
from keras_recipes.schedules import OneCycleSchedule, PowerDecay  # noqa: E402
from tests.conftest import FeedMetric, KernelRecorder, ones, probe_model  # noqa: E402
from tests.tensorboard_events import read_run  # noqa: E402

if BACKEND == "tensorflow":
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    STRATEGY = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    REPLICAS = STRATEGY.num_replicas_in_sync

    def scope():
        return STRATEGY.scope()
else:
    devices = keras.distribution.list_devices("cpu")
    keras.distribution.set_distribution(
        keras.distribution.DataParallel(devices=devices)
    )
    REPLICAS = len(devices)
    scope = contextlib.nullcontext

STEPS, BATCH, EPOCHS = 8, 8, 2


def kernels(make_optimizer, callbacks=(), epochs=EPOCHS):
    # Created in the scope: Keras refuses slots of an optimizer made outside.
    with scope():
        model = probe_model(make_optimizer())
    x, y = ones(STEPS * BATCH)
    recorder = KernelRecorder()
    model.fit(
        x, y, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0,
        callbacks=[*callbacks, recorder],
    )  # fmt: skip
    return np.array(recorder.kernels)[:, 0], model


def largest_difference(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


class LossRecorder(KernelRecorder):
    """The kernel and the logged loss (the epoch's running mean) per batch."""

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        self.losses.append(float(logs["loss"]))


results = {"replicas": REPLICAS}
total = EPOCHS * STEPS
# The gradient the optimizer sees per step (Keras's own reduction over the
# replicas), read from one plain SGD step.
first, _ = kernels(lambda: keras.optimizers.SGD(1.0), epochs=1)
gradient = -float(first[0])
results["gradient"] = gradient

# Each scheduling callback against the same schedule compiled into SGD.
cases = {
    "one-cycle": (kr.OneCycle(0.3, cycle_momentum=False), OneCycleSchedule(0.3, total)),
    "power": (kr.PowerScheduling(0.2, decay_epochs=1), PowerDecay(0.2, STEPS)),
    "exponential": (
        kr.ExponentialScheduling(0.2, decay_steps=5),
        keras.optimizers.schedules.ExponentialDecay(0.2, 5, 0.1),
    ),
    "piecewise": (
        kr.PiecewiseConstantScheduling([1], [0.3, 0.1]),
        keras.optimizers.schedules.PiecewiseConstantDecay([STEPS - 1], [0.3, 0.1]),
    ),
}
for name, (callback, schedule) in cases.items():
    got, model = kernels(lambda: keras.optimizers.SGD(0.01), [callback])
    expected, _ = kernels(lambda s=schedule: keras.optimizers.SGD(s))
    results[name] = largest_difference(got, expected)
    results[name + "_moved"] = float(np.ptp(np.diff(got)))
    results[name + "_restored"] = float(model.optimizer.learning_rate.numpy())

# A plateau cut: epoch 2 does not improve, epoch 3 runs at half the rate.
callback = kr.PerformanceScheduling("score", factor=0.5, patience=1, mode="min")
got, _ = kernels(
    lambda: keras.optimizers.SGD(0.2),
    [FeedMetric([1.0, 2.0, 3.0]), callback],
    epochs=3,
)
applied = np.diff(got, prepend=0.0) / -gradient
results["performance"] = largest_difference(applied, np.repeat([0.2, 0.2, 0.1], STEPS))

# Momentum cycling against NumPy: v = mu * v - lr * g, w += v. The same fit
# writes its per-step TensorBoard curves (the chief: one process here).
board = os.path.join(os.path.dirname(os.path.abspath(OUT)), "schedule_board")
got, _ = kernels(
    lambda: keras.optimizers.SGD(0.01, momentum=0.9), [kr.OneCycle(0.3, log_dir=board)]
)
schedule = OneCycleSchedule(0.3, total)
momentum = schedule.momentum_schedule(0.95, 0.85)
velocity, weight, simulated = 0.0, 0.0, []
for step in range(total):
    velocity = float(momentum(step)) * velocity - float(schedule(step)) * gradient
    weight += velocity
    simulated.append(weight)
results["momentum"] = largest_difference(got, simulated) / max(abs(weight), 1e-12)
# The curves list every update once, and the weights followed their values.
curves = read_run(board)
results["curve_steps"] = [
    [step for step, _ in curves[tag]] == list(range(total))
    for tag in ("schedule/learning_rate", "schedule/momentum")
]
velocity, weight, from_curves = 0.0, 0.0, []
for (_, rate), (_, mu) in zip(
    curves["schedule/learning_rate"], curves["schedule/momentum"], strict=True
):
    velocity = mu * velocity - rate * gradient
    weight += velocity
    from_curves.append(weight)
results["curve"] = largest_difference(got, from_curves) / max(abs(weight), 1e-12)


def finder_results():
    # With momentum mu the kernel moves by v_t = mu * v_{t-1} - lr_t * g.
    moves = np.diff(-np.array(recorder.kernels)[:, 0], prepend=0.0)
    applied = (moves - 0.5 * np.concatenate([[0.0], moves[:-1]])) / gradient
    results["finder"] = largest_difference(
        np.log(applied), np.log(np.geomspace(1e-3, 1.0, 16))
    )
    # The loss of each batch from the loss tracker's sums: Keras's own, as its
    # running means give it (k * mean_k - (k - 1) * mean_k-1), which for this
    # loss is the kernel before the step times a constant (Keras's reduction
    # over the replicas: 2x on Keras 3.15, 1x on 3.8).
    means = np.array(recorder.losses[:16])
    keras_losses = np.arange(1, 17) * means - np.arange(16) * np.concatenate(
        [[0.0], means[:-1]]
    )
    before_each_step = np.concatenate([[0.0], np.array(recorder.kernels)[:-1, 0]])
    results["finder_losses"] = largest_difference(finder.result.losses, keras_losses)
    scale = keras_losses[1:] / before_each_step[1:]
    results["finder_loss_scale"] = float(np.ptp(scale))
    results["finder_restored_kernel"] = float(model.layers[0].kernel.numpy()[0, 0])
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    with scope():
        twin = probe_model(keras.optimizers.SGD(0.01, momentum=0.5))
    twin.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    results["fit_after_finder"] = float(model.layers[0].kernel.numpy()[0, 0])
    results["fit_of_untouched_twin"] = float(twin.layers[0].kernel.numpy()[0, 0])


# The finder's sweep reaches the optimizer, and the model is usable after
# (its momentum slots are built by the finder, before the sweep). Keras
# before 3.12 under tf.distribute: refused (its loss tracker is wrong).
results["keras"] = keras.version()
with scope():
    model = probe_model(keras.optimizers.SGD(0.01, momentum=0.5))
x, y = ones(16 * BATCH)
recorder = LossRecorder()
finder = kr.LRFinder(1e-3, 1.0, num_steps=16, divergence_threshold=None, verbose=0)
try:
    model.fit(
        x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0,
        callbacks=[finder, recorder],
    )  # fmt: skip
except ValueError as error:
    results["finder_refused"] = str(error)
else:
    finder_results()

# A second scheduled fit of the same model runs the step kept from the first
# (its schedule tables refilled): it follows its own schedule, with the
# momentum at its compiled 0.5 (v = mu * v - lr * g, so the kernel's moves
# d satisfy d_t - 0.5 * d_{t-1} = -lr_t * g).
with scope():
    model = probe_model(keras.optimizers.SGD(0.01, momentum=0.5))
x, y = ones(STEPS * BATCH)
model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
recorder = KernelRecorder()
model.fit(
    x, y, batch_size=BATCH, epochs=EPOCHS, verbose=0, shuffle=False,
    callbacks=[kr.OneCycle(0.3), recorder],
)  # fmt: skip
before = np.array(recorder.kernels)[-2:, 0]
decay = kr.ExponentialScheduling(0.2, decay_steps=5)
recorder = KernelRecorder()
model.fit(
    x, y, batch_size=BATCH, epochs=EPOCHS, verbose=0, shuffle=False,
    callbacks=[decay, recorder],
)  # fmt: skip
moves = np.diff(np.concatenate([before, np.array(recorder.kernels)[:, 0]]))
rates = kr.schedules.evaluate(
    decay.schedule_for(EPOCHS, STEPS, 0.01).learning_rate, np.arange(total)
)
results["second_scheduled_fit"] = largest_difference(
    moves[1:] - 0.5 * moves[:-1], -rates * gradient
)

# Discriminative rates: every variable at half the rate, on the replicas.
got, _ = kernels(
    lambda: kr.DiscriminativeOptimizer(keras.optimizers.SGD(0.1), [], default=0.5)
)
plain, _ = kernels(lambda: keras.optimizers.SGD(0.1))
results["discriminative"] = largest_difference(got, 0.5 * plain)

# The savers on the replicas: the state copied at each save, Keras's file
# written from the copy in the background. Best epoch 2 of 3; the backup
# written at epoch 3's start holds epoch 2's end too.
folder = Path(OUT).parent / "savers"
best = kr.BestCheckpoint(folder / "best.keras", "score", "min")
backup = kr.ResumableBackup(folder / "backup", delete_on_completion=False)
recorded, _ = kernels(
    lambda: keras.optimizers.SGD(0.1),
    [FeedMetric([0.5, 0.3, 0.4]), best, backup],
    epochs=3,
)
epoch_2 = recorded[2 * STEPS - 1]
with scope():
    loaded = keras.models.load_model(best.best_path, compile=False)
    twin = probe_model(keras.optimizers.SGD(0.1))
state = json.loads((folder / "backup" / "state.json").read_text())
twin.load_weights(folder / "backup" / state["weights"])
results["saved_kernels"] = [
    largest_difference(keras.ops.convert_to_numpy(m.layers[0].kernel)[0], epoch_2)
    for m in (loaded, twin)
]
results["saved_kernel_moved"] = largest_difference(recorded[-1], epoch_2)

with open(OUT, "w") as f:
    json.dump(results, f)
