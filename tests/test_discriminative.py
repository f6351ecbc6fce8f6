"""`DiscriminativeOptimizer`: each variable group moves by its own rate.

Read from the weights: two bias-free units fed ones under a loss whose
gradient is 1 for each kernel at every step, so a kernel's value is minus the
sum of the rates it was moved by (SGD), or a known function of them (Adam:
each step is -rate / (1 + epsilon) with a constant gradient).
"""

import keras
import numpy as np
import pytest
from keras import ops

import keras_recipes as kr
from keras_recipes.optimizers import make_optimizer
from tests.conftest import mean_prediction, steps_per_execution_values

STEPS, LR = 6, 0.1


def two_units(optimizer, **compile_kwargs):
    """Units "early" and "head" on one input; the loss is the mean of their
    sum, so each kernel's gradient is exactly 1."""
    inputs = keras.Input((1,))
    early = keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros",
                               name="early")(inputs)  # fmt: skip
    head = keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros",
                              name="head")(inputs)  # fmt: skip
    model = keras.Model(inputs, ops.add(early, head))
    model.compile(optimizer=optimizer, loss=mean_prediction, **compile_kwargs)
    return model


def kernels(model):
    return {
        name: float(np.ravel(model.get_layer(name).kernel.numpy())[0])
        for name in ("early", "head")
    }


def fit(model, callbacks=(), epochs=1):
    x, y = np.ones((STEPS, 1), "float32"), np.zeros((STEPS, 1), "float32")
    model.fit(x, y, batch_size=1, epochs=epochs, shuffle=False, verbose=0,
              callbacks=list(callbacks))  # fmt: skip
    return kernels(model)


@pytest.mark.parametrize(
    "make", [lambda lr: keras.optimizers.SGD(lr), lambda lr: keras.optimizers.SGD(
        lr, momentum=0.9), lambda lr: keras.optimizers.Adam(lr),
        lambda lr: keras.optimizers.AdamW(lr, weight_decay=0.5)],
    ids=["sgd", "sgd-momentum", "adam", "adamw"],
)  # fmt: skip
def test_each_group_moves_as_with_its_own_rate(make):
    # Reference: the same optimizer at rate m * LR, applied to both units.
    moved = fit(two_units(kr.DiscriminativeOptimizer(make(LR), [("early", 0.1)])))
    at_lower = fit(two_units(make(LR * 0.1)))["early"]
    at_full = fit(two_units(make(LR)))["head"]
    assert moved["early"] == pytest.approx(at_lower, rel=1e-5)
    assert moved["head"] == pytest.approx(at_full, rel=1e-5)
    assert moved["head"] != pytest.approx(moved["early"], rel=0.5)


def test_gradient_accumulation_scales_each_applied_update():
    # 6 batches, an update every 2: 3 updates of the mean gradient (1).
    def accumulating():
        return keras.optimizers.SGD(LR, gradient_accumulation_steps=2)

    moved = fit(two_units(kr.DiscriminativeOptimizer(accumulating(), [("early", 0.1)])))
    assert moved["head"] == pytest.approx(-3 * LR, rel=1e-5)
    assert moved["early"] == pytest.approx(-3 * LR * 0.1, rel=1e-5)


@pytest.mark.parametrize("steps_per_execution", steps_per_execution_values())
def test_steps_per_execution_changes_nothing(steps_per_execution):
    optimizer = kr.DiscriminativeOptimizer(keras.optimizers.Adam(LR), [("early", 0.1)])
    moved = fit(two_units(optimizer, steps_per_execution=steps_per_execution))
    reference = fit(two_units(keras.optimizers.Adam(LR * 0.1)))["early"]
    assert moved["early"] == pytest.approx(reference, rel=1e-5)


def test_scaling_gradients_instead_would_not_change_adams_step():
    # Why the update, not the gradient, is scaled (the point).
    plain = fit(two_units(keras.optimizers.Adam(LR)))
    clipped = keras.optimizers.Adam(LR, loss_scale_factor=0.1)  # gradients x0.1
    assert fit(two_units(clipped))["early"] == pytest.approx(plain["early"], rel=1e-3)
    assert plain["early"] == pytest.approx(-STEPS * LR, rel=1e-3)


def test_a_scheduling_callback_drives_every_group():
    def schedule():
        return kr.ExponentialScheduling(LR, decay_steps=2, decay_rate=0.5)

    moved = fit(
        two_units(kr.DiscriminativeOptimizer(keras.optimizers.SGD(LR),
                                             [("early", 0.25)])),
        callbacks=[schedule()], epochs=2,
    )  # fmt: skip
    rates = LR * 0.5 ** (np.arange(2 * STEPS) / 2)  # the schedule per step
    assert moved["head"] == pytest.approx(-rates.sum(), rel=1e-5)
    assert moved["early"] == pytest.approx(-0.25 * rates.sum(), rel=1e-5)


def test_a_zero_multiplier_freezes_without_recompiling():
    optimizer = kr.DiscriminativeOptimizer(
        keras.optimizers.Adam(LR), [(["early"], 0.0)], default=0.5
    )
    moved = fit(two_units(optimizer))
    assert moved["early"] == 0.0
    assert moved["head"] == pytest.approx(fit(two_units(keras.optimizers.Adam(
        LR * 0.5)))["head"], rel=1e-5)  # fmt: skip


def test_layers_and_variables_select_too_and_the_first_group_wins():
    model = two_units("sgd")
    early, head = model.get_layer("early"), model.get_layer("head")
    optimizer = kr.DiscriminativeOptimizer(
        keras.optimizers.SGD(LR), [(early, 0.2), (head.kernel, 0.3), ("head", 9.0)]
    )
    assert optimizer.multiplier_of(early.kernel) == 0.2
    assert optimizer.multiplier_of(head.kernel) == 0.3


def test_the_model_saves_and_loads_with_its_groups_and_slots(tmp_path):
    model = two_units(
        kr.DiscriminativeOptimizer(keras.optimizers.Adam(LR), [("early", 0.1)])
    )
    fit(model)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert isinstance(loaded.optimizer, kr.DiscriminativeOptimizer)
    # The next epoch continues the same way (moments and step count restored).
    assert fit(loaded) == pytest.approx(fit(model), rel=1e-6)
    assert loaded.optimizer.multiplier_of(loaded.get_layer("early").kernel) == 0.1


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_under_mixed_precision_each_group_moves_by_its_rate(policy):
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = two_units(
            kr.DiscriminativeOptimizer(keras.optimizers.SGD(LR), [("early", 0.1)])
        )
        # float16 needs loss scaling (Keras wraps the optimizer); bfloat16 not.
        wrapped = isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        assert wrapped == (policy == "mixed_float16")
        moved = fit(model)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert moved["head"] == pytest.approx(-STEPS * LR, rel=1e-2)
    assert moved["early"] == pytest.approx(-STEPS * LR * 0.1, rel=1e-2)


def test_a_multi_output_model_moves_each_group_by_its_rate():
    # Two outputs, a loss each (gradient 1 for each kernel), summed by Keras.
    inputs = keras.Input((1,))
    outputs = {
        name: keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros",
                                 name=name)(inputs)
        for name in ("early", "head")
    }  # fmt: skip
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=kr.DiscriminativeOptimizer(
            keras.optimizers.SGD(LR), [("early", 0.1)]
        ),
        loss={"early": mean_prediction, "head": mean_prediction},
    )
    x = np.ones((STEPS, 1), "float32")
    y = {name: np.zeros((STEPS, 1), "float32") for name in ("early", "head")}
    model.fit(x, y, batch_size=1, epochs=1, shuffle=False, verbose=0)
    moved = kernels(model)
    assert moved["head"] == pytest.approx(-STEPS * LR, rel=1e-5)
    assert moved["early"] == pytest.approx(-STEPS * LR * 0.1, rel=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"optimizer": "adam", "groups": []}, "`optimizer` must be a Keras optimizer"),
        ({"groups": "early"}, "`groups` must be a list"),
        ({"groups": [("early",)]}, "groups[0]=('early',)"),
        ({"groups": [(3, 0.1)]}, "selectors must be layers"),
        ({"groups": [("early", -1)]}, "finite numbers >= 0"),
        ({"groups": [("early", float("nan"))]}, "finite numbers >= 0"),
        ({"groups": [], "default": -2}, "`default`"),
        ({"groups": [], "clipnorm": 1.0}, "set them on `optimizer`"),
    ],
)
@pytest.mark.backend_independent
def test_bad_arguments_are_refused_naming_them(kwargs, message):
    kwargs = {"optimizer": keras.optimizers.SGD(), **kwargs}
    with pytest.raises((TypeError, ValueError)) as caught:
        kr.DiscriminativeOptimizer(**kwargs)
    assert message in str(caught.value)


def big_gradient_model(optimizer, units=4):
    """A bias-free layer of `units` kernels fed 100s under the mean of its
    outputs: each kernel's gradient is 100 / units."""
    model = keras.Sequential([
        keras.Input((1,)),
        keras.layers.Dense(units, use_bias=False, kernel_initializer="zeros"),
    ])  # fmt: skip
    model.compile(optimizer=optimizer, loss=mean_prediction)
    return model


def one_step(model):
    x, y = np.full((1, 1), 100.0, "float32"), np.zeros((1, 1), "float32")
    model.fit(x, y, batch_size=1, epochs=1, verbose=0)
    return np.ravel(model.layers[0].kernel.numpy())


@pytest.mark.parametrize(
    ("clipping", "bound"), [({"clipnorm": 0.5}, 0.5), ({"global_clipnorm": 0.5}, 0.5)]
)
def test_clipping_bounds_the_applied_updates_norm(clipping, bound):
    # SGD without momentum: the update is -lr * the clipped gradient.
    step = one_step(big_gradient_model(
        make_optimizer("sgd", 1.0, momentum=0.0, **clipping)))  # fmt: skip
    assert np.linalg.norm(step) == pytest.approx(bound, rel=1e-5)
    unclipped = one_step(big_gradient_model(make_optimizer("sgd", 1.0, momentum=0.0)))
    # The loss is the mean over 4 outputs: 25 per kernel, 25 x sqrt(4) in all.
    assert np.linalg.norm(unclipped) == pytest.approx(50, rel=1e-5)


def test_weight_decay_is_adamw_and_decays_every_weight():
    optimizer = make_optimizer("adam", 0.1, weight_decay=0.5)
    assert isinstance(optimizer, keras.optimizers.AdamW)
    model = big_gradient_model(optimizer)
    model.layers[0].kernel.assign(np.ones((1, 4), "float32"))
    x, y = np.zeros((1, 1), "float32"), np.zeros((1, 1), "float32")  # gradient 0
    model.fit(x, y, batch_size=1, epochs=1, verbose=0)
    # w -= lr * wd * w: 1 - 0.1 * 0.5.
    np.testing.assert_allclose(model.layers[0].kernel.numpy(), 0.95, rtol=1e-6)
    assert not isinstance(make_optimizer("adam", 0.1), keras.optimizers.AdamW)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "rmsprop"}, "`name` must be one of 'adam', 'sgd'"),
        ({"learning_rate": 0}, "`learning_rate`"),
        ({"clipnorm": 0}, "`clipnorm`"),
        ({"weight_decay": -1}, "`weight_decay`"),
        ({"clipnorm": 1, "global_clipnorm": 1}, "Pass one of `clipnorm`"),
    ],
)
@pytest.mark.backend_independent
def test_make_optimizer_refuses_bad_values(kwargs, message):
    with pytest.raises((ValueError, TypeError)) as caught:
        make_optimizer(**kwargs)
    assert message in str(caught.value)


@pytest.mark.backend_independent
@pytest.mark.slow
def test_train_flags_reach_the_optimizer(tmp_path):
    from keras_recipes import cli

    log_dir = tmp_path / "run"
    argv = ["train", "--smoke", "--model", "mlp", "--learning-rate", "0.01",
            "--weight-decay", "0.001", "--global-clipnorm", "1.0",
            "--log-dir", str(log_dir)]  # fmt: skip
    assert cli.main(argv) == 0
    best = keras.models.load_model(next((log_dir / "best").glob("*.keras")))
    assert isinstance(best.optimizer, keras.optimizers.AdamW)
    assert best.optimizer.weight_decay == pytest.approx(0.001)
    assert best.optimizer.global_clipnorm == pytest.approx(1.0)
