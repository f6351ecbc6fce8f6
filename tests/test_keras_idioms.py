"""The callbacks beside what Keras users write: `fit(validation_freq=k)`,
Keras's own learning-rate callbacks in a scheduled fit; checked by the
weights."""

import json
import warnings

import keras
import numpy as np
import pytest

import keras_recipes as kr
from keras_recipes.callbacks import PerformanceScheduling
from tests.conftest import BACKEND, FeedMetric, KernelRecorder, ones, probe_model


def regression_fit(callbacks, epochs=6, validation_freq=2):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5], [3.0]], "float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    history = model.fit(
        x, y, batch_size=16, epochs=epochs, verbose=0, callbacks=callbacks,
        validation_data=(x[:16], y[:16]), validation_freq=validation_freq,
    )  # fmt: skip
    return model, history.history


def test_validation_freq_skips_the_epochs_that_did_not_validate(tmp_path):
    checkpoint = kr.BestCheckpoint(tmp_path / "best.keras", save_top_k=3)
    stopper = kr.EarlyStopping(patience=10)
    plateau = PerformanceScheduling(patience=1)
    with pytest.warns(UserWarning, match="validation_freq"):
        regression_fit([checkpoint, stopper, plateau])
    saved = json.loads((tmp_path / "checkpoints.json").read_text())
    # Epochs 2, 4 and 6 validated; the others were skipped.
    assert sorted(c["epoch"] for c in saved["checkpoints"]) == [2, 4, 6]
    assert stopper.best_epoch == 6 and stopper.wait == 0
    assert plateau.wait == 0 and plateau.scale == 1.0  # Nothing cut.


def test_every_epoch_validating_warns_of_nothing(tmp_path):
    checkpoint = kr.BestCheckpoint(tmp_path / "best.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        regression_fit([checkpoint], epochs=2, validation_freq=1)
    assert checkpoint.kept[0]["epoch"] == 2


def test_a_fit_in_which_no_epoch_validated_is_refused_at_its_end():
    stopper = kr.EarlyStopping(patience=10)
    with pytest.warns(UserWarning, match="validation_freq"):
        with pytest.raises(ValueError, match="`val_loss`, which was in no epoch's"):
            regression_fit([stopper], epochs=2, validation_freq=3)


STEPS = 8  # batches per epoch of `probe_fit`


def probe_fit(callbacks, epochs=3):
    """The probe model (gradient 1 each step, plain SGD): the kernel's moves
    are the rates applied."""
    model = probe_model(keras.optimizers.SGD(0.01))
    recorder = KernelRecorder()
    x, y = ones(STEPS * 4)
    history = model.fit(
        x, y, batch_size=4, epochs=epochs, shuffle=False, verbose=0,
        callbacks=[*callbacks, recorder],
    )  # fmt: skip
    applied = -np.diff(np.array(recorder.kernels)[:, 0], prepend=0.0)
    return applied, history.history, model


@pytest.mark.parametrize("keras_first", [True, False])
def test_keras_reduce_lr_on_plateau_scales_a_scheduled_fit(keras_first):
    # A cut at the second epoch's end (its score did not improve): the rest
    # of the schedule runs at half its rate. Either order of the callbacks.
    decay = kr.ExponentialScheduling(0.1, decay_steps=STEPS, decay_rate=0.5)
    plateau = keras.callbacks.ReduceLROnPlateau(
        "score", factor=0.5, patience=1, mode="min"
    )
    ours = [decay]
    theirs = [FeedMetric([1.0, 2.0, 3.0]), plateau]
    callbacks = theirs + ours if keras_first else ours + theirs
    applied, history, model = probe_fit(callbacks)
    schedule = 0.1 * 0.5 ** (np.arange(3 * STEPS) / STEPS)
    expected = schedule * np.repeat([1.0, 1.0, 0.5], STEPS)
    np.testing.assert_allclose(applied, expected, rtol=1e-5)
    # The logged rate is the one the next step would run at: 0.0125 times
    # the cuts made so far (Keras's second cut, at the last epoch's end,
    # comes before our log when Keras's callback is listed first).
    assert history["learning_rate"][0] == pytest.approx(0.05, rel=1e-5)
    cuts = 0.25 if keras_first else 0.5
    assert history["learning_rate"][2] == pytest.approx(0.0125 * cuts, rel=1e-5)
    # After the fit, the optimizer has its compiled rate back.
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.01)


def test_keras_learning_rate_scheduler_sets_the_rate_of_each_epoch_start():
    # LearningRateScheduler sets epoch 1's first rate to 0.2: 1cycle's
    # shape goes on from there, scaled to it.
    cycle = kr.OneCycle(0.1, cycle_momentum=False)
    setter = keras.callbacks.LearningRateScheduler(
        lambda epoch, rate: 0.2 if epoch == 1 else rate
    )
    applied, _, _ = probe_fit([cycle, setter], epochs=2)
    plain, _, _ = probe_fit([kr.OneCycle(0.1, cycle_momentum=False)], epochs=2)
    # (Float32 kernels: the moves are exact to ~1e-7.)
    np.testing.assert_allclose(applied[:STEPS], plain[:STEPS], rtol=1e-5, atol=2e-7)
    factor = 0.2 / plain[STEPS]
    np.testing.assert_allclose(
        applied[STEPS:], plain[STEPS:] * factor, rtol=1e-5, atol=2e-7
    )


def test_restore_best_weights_at_the_end_of_a_fit_that_never_stopped():
    # Keras 3's EarlyStopping (3.8 and 3.15) restores the best weights at the
    # end of the fit whatever ended it; ours does the same.
    kernels = {}
    for name, make in {
        "keras": lambda: keras.callbacks.EarlyStopping(
            "score", patience=10, mode="min", restore_best_weights=True
        ),
        "ours": lambda: kr.EarlyStopping("score", patience=10, mode="min"),
    }.items():
        stopper = make()
        recorder = KernelRecorder()
        model = probe_model(keras.optimizers.SGD(0.01))
        x, y = ones(8)
        model.fit(
            x, y, batch_size=4, epochs=3, shuffle=False, verbose=0,
            callbacks=[FeedMetric([0.5, 0.6, 0.7]), stopper, recorder],
        )  # fmt: skip
        assert stopper.stopped_epoch == 0  # Never stopped.
        kernels[name] = float(model.layers[0].kernel.numpy()[0, 0])
        after_epoch_1 = float(recorder.kernels[1][0])
        assert kernels[name] == pytest.approx(after_epoch_1)  # The best epoch's.
    assert kernels["ours"] == kernels["keras"]


class TwoOptimizers(keras.Model):
    """keras.io's GAN pattern, reduced to two probes: `compile(d_optimizer,
    g_optimizer)` calls `super().compile()`, and `train_step` steps each
    optimizer on its own kernel (gradient 1 each)."""

    def __init__(self):
        super().__init__()
        self.d = keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")
        self.g = keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")

    def call(self, x):
        return self.d(x) + self.g(x)

    def compile(self, d_optimizer, g_optimizer):
        super().compile()
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer

    def train_step(self, data):
        x, _ = data
        for layer, optimizer in (
            (self.d, self.d_optimizer),
            (self.g, self.g_optimizer),
        ):
            if BACKEND == "torch":
                self.zero_grad()
                loss = keras.ops.mean(layer(x))
                loss.backward()
                grads = [layer.kernel.value.grad]
            else:
                import tensorflow as tf

                with tf.GradientTape() as tape:
                    loss = keras.ops.mean(layer(x))
                grads = tape.gradient(loss, [layer.kernel])
            optimizer.apply(grads, [layer.kernel])
        return {"d_loss": loss}


def two_optimizer_fit(callbacks, epochs=2):
    model = TwoOptimizers()
    model.build((None, 1))
    model.compile(keras.optimizers.SGD(0.01), keras.optimizers.SGD(0.01))
    x, y = ones(STEPS * 4)
    recorder = {"d": [], "g": []}

    class Kernels(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            for name in recorder:
                kernel = getattr(self.model, name).kernel
                recorder[name].append(float(keras.ops.convert_to_numpy(kernel)[0, 0]))

    model.fit(
        x, y, batch_size=4, epochs=epochs, shuffle=False, verbose=0,
        callbacks=[*callbacks, Kernels()],
    )  # fmt: skip
    return {k: -np.diff(v, prepend=0.0) for k, v in recorder.items()}


needs_a_stateful_step = pytest.mark.skipif(
    BACKEND == "jax",
    reason="Keras's JAX trainer takes a stateless train_step (another pattern)",
)


@needs_a_stateful_step
def test_a_model_with_its_own_optimizers_is_scheduled_when_named():
    decay = kr.ExponentialScheduling(
        0.1,
        decay_steps=STEPS,
        decay_rate=0.5,
        optimizers=["d_optimizer", "g_optimizer"],
    )
    applied = two_optimizer_fit([decay])
    expected = 0.1 * 0.5 ** (np.arange(2 * STEPS) / STEPS)
    for name in ("d", "g"):
        np.testing.assert_allclose(applied[name], expected, rtol=1e-5)


@needs_a_stateful_step
def test_an_optimizer_that_takes_no_step_stops_the_fit_naming_it():
    # The default, `model.optimizer`, is Keras's RMSprop, which this model's
    # train_step never steps: not silently unscheduled.
    with pytest.raises(ValueError, match=r"applied no update in epoch 1.*optimizers"):
        two_optimizer_fit([kr.OneCycle(0.1, cycle_momentum=False)])


def test_bad_optimizers_are_refused_naming_the_argument():
    with pytest.raises(TypeError, match=r"Received: optimizers=3"):
        kr.OneCycle(0.1, optimizers=3)
    with pytest.raises(TypeError, match=r"Received: optimizers=\[\]"):
        kr.OneCycle(0.1, optimizers=[])
    model = probe_model(keras.optimizers.SGD(0.01))
    x, y = ones(8)
    with pytest.raises(ValueError, match=r"no optimizer in its attribute `g_opt`"):
        model.fit(x, y, verbose=0, callbacks=[kr.OneCycle(0.1, optimizers="g_opt")])
