"""`fine_tune`: the stages, what each trains, and a rerun that continues.

Weights are compared array for array: the base must not move in the head
stage, its batch-norm statistics must not move in either stage (the base is
called with training=False), and the second stage's optimizer gives the
base's first layer the lowest multiplier.
"""

import json

import keras
import numpy as np
import pytest

import keras_recipes as kr
from keras_recipes.data import load_dataset
from keras_recipes.fine_tuning import fine_tune


@pytest.fixture(scope="module")
def data():
    """A CNN pretrained (briefly) on digits 0-4, and a small sample of 5-9."""
    splits = load_dataset("digits")

    def subset(x, y, classes):
        keep = np.isin(y, classes)
        return x[keep], (y[keep] - min(classes)).astype("int32")

    keras.utils.set_random_seed(0)
    base = kr.build_cnn((8, 8, 1), 5, filters=(8,), dense_units=16)
    base.compile("adam", "sparse_categorical_crossentropy")
    base.fit(*subset(splits.x_train, splits.y_train, range(5)), epochs=2, verbose=0)
    x, y = subset(splits.x_train, splits.y_train, range(5, 10))
    return base, x[:80], y[:80], subset(splits.x_val, splits.y_val, range(5, 10))


def base_weights(model):
    """A model's variables (trainable and batch-norm statistics) by layer and
    variable name (the fine-tuned model's base: `model.get_layer("base")`)."""
    return {
        f"{layer.name}/{v.name}": np.array(keras.ops.convert_to_numpy(v))
        for layer in model.layers
        for v in layer.weights
    }


def moving_statistics(weights):
    return {k: v for k, v in weights.items() if "moving" in k}


@pytest.mark.slow
def test_the_head_stage_moves_the_head_only(data, tmp_path):
    base, x, y, val = data
    pretrained = base_weights(base)
    result = fine_tune(base, x, y, validation_data=val, num_classes=5,
                       head_epochs=2, epochs=0, log_dir=tmp_path,
                       verbose=0)  # fmt: skip
    after = base_weights(result.model.get_layer("base"))
    assert len(after) == len(pretrained) - 2  # all but the old head's
    for path, value in after.items():
        np.testing.assert_array_equal(value, pretrained[path], err_msg=path)
    head = result.model.get_layer("head").kernel.numpy()
    assert head.shape == (16, 5) and np.abs(head).sum() > 0
    assert (
        set(result.histories) == {"head"} and len(result.histories["head"]["loss"]) >= 1
    )
    assert result.learning_rates["head"] > 0
    assert result.best_paths["head"].exists()


@pytest.mark.slow
def test_the_second_stage_trains_the_base_with_discriminative_rates(data, tmp_path):
    base, x, y, val = data
    result = fine_tune(base, x, y, validation_data=val, num_classes=5,
                       head_epochs=1, epochs=2, lowest_multiplier=0.01,
                       log_dir=tmp_path, verbose=0)  # fmt: skip
    pretrained = base_weights(base)  # untouched: fine_tune copies the base
    after = base_weights(result.model.get_layer("base"))
    kernels = [k for k in after if k.endswith("kernel")]
    assert any(not np.array_equal(after[k], pretrained[k]) for k in kernels)
    # Batch norm in inference mode in both stages: its statistics stayed.
    for path, value in moving_statistics(after).items():
        np.testing.assert_array_equal(value, pretrained[path], err_msg=path)
    assert moving_statistics(after)
    multipliers = list(result.multipliers.values())
    assert multipliers[0] == pytest.approx(0.01)
    assert multipliers == sorted(multipliers) and multipliers[-1] < 1
    optimizer = result.model.optimizer
    assert isinstance(optimizer, kr.DiscriminativeOptimizer)
    first = result.model.get_layer("base").layers[1]  # the first convolution
    assert optimizer.multiplier_of(first.kernel) == pytest.approx(0.01)
    assert optimizer.multiplier_of(result.model.get_layer("head").kernel) == 1.0
    assert result.learning_rates["fine_tune"] == pytest.approx(
        result.learning_rates["head"] / 10
    )


@pytest.mark.slow
def test_unfreeze_trains_the_last_layers_only(data, tmp_path):
    base, x, y, val = data
    result = fine_tune(base, x, y, validation_data=val, num_classes=5,
                       head_epochs=1, epochs=1, unfreeze=1, log_dir=tmp_path,
                       verbose=0)  # fmt: skip
    pretrained = base_weights(base)
    after = base_weights(result.model.get_layer("base"))
    moved = sorted(k for k in after if not np.array_equal(after[k], pretrained[k]))
    assert moved and all(k.startswith(moved[0].rsplit("/", 1)[0]) for k in moved)
    assert len(result.multipliers) == 1


@pytest.mark.slow
def test_gradual_unfreezing_trains_more_layers_each_stage(data, tmp_path):
    base, x, y, val = data
    result = fine_tune(base, x, y, validation_data=val, num_classes=5,
                       head_epochs=1, epochs=1, unfreeze=[1, None],
                       log_dir=tmp_path, verbose=0)  # fmt: skip
    assert list(result.histories) == ["head", "fine_tune", "fine_tune_2"]
    pretrained = base_weights(base)
    first = keras.models.load_model(result.best_paths["fine_tune"], compile=False)
    after_first = base_weights(first.get_layer("base"))
    moved = {k.split("/")[0] for k in after_first
             if not np.array_equal(after_first[k], pretrained[k])}  # fmt: skip
    assert len(moved) == 1  # the first of the two stages: the last layer only
    after = base_weights(result.model.get_layer("base"))
    moved = {k.split("/")[0] for k in after if "moving" not in k
             and not np.array_equal(after[k], pretrained[k])}  # fmt: skip
    assert len(moved) > 1
    assert min(result.multipliers.values()) == pytest.approx(0.01)


@pytest.mark.slow
def test_a_rerun_continues_without_running_a_finished_stage_again(data, tmp_path):
    base, x, y, val = data
    first = fine_tune(base, x, y, validation_data=val, num_classes=5,
                      head_epochs=1, epochs=0, log_dir=tmp_path, verbose=0)  # fmt: skip
    state = (tmp_path / "head" / "state.json").read_text()
    history = (tmp_path / "head" / "history.json").stat().st_mtime_ns
    head = first.model.get_layer("head").kernel.numpy()
    again = fine_tune(base, x, y, validation_data=val, num_classes=5,
                      head_epochs=1, epochs=1, log_dir=tmp_path, verbose=0)  # fmt: skip
    assert (tmp_path / "head" / "state.json").read_text() == state
    assert (tmp_path / "head" / "history.json").stat().st_mtime_ns == history
    assert again.learning_rates["head"] == first.learning_rates["head"]
    assert json.loads((tmp_path / "fine_tune" / "state.json").read_text())["done"]
    assert not np.array_equal(again.model.get_layer("head").kernel.numpy(), head)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"features_layer": "nope"}, "`features_layer`: the base has no layer 'nope'"),
        ({"num_classes": 3}, "class ids 0..2"),
        ({"base": "missing.keras"}, "`base` must be a keras.Model"),
        ({"base": "applications:NoSuchNet"}, "no model 'NoSuchNet'"),
        ({"lowest_multiplier": 0}, "`lowest_multiplier`"),
        ({"validation_data": None}, "`validation_data` must be a pair"),
        ({"unfreeze": [None, 2]}, "None (all layers) can only be the last"),
        ({"unfreeze": [3, 2]}, "increasing counts"),
        ({"unfreeze": []}, "at least one stage"),
        ({"unfreeze": 0}, "`unfreeze`"),
    ],
)
def test_bad_arguments_are_refused_before_any_training(data, tmp_path, kwargs, message):
    base, x, y, val = data
    arguments = {"base": base, "x": x, "y": y, "validation_data": val,
                 "num_classes": 5, "log_dir": tmp_path / "run",
                 "verbose": 0}  # fmt: skip
    with pytest.raises((ValueError, TypeError)) as caught:
        fine_tune(**{**arguments, **kwargs})
    assert message in str(caught.value)
    assert not (tmp_path / "run").exists()


@pytest.mark.backend_independent
def test_a_multi_output_base_needs_its_features_layer_named(data, tmp_path):
    _, x, y, val = data
    inputs = keras.Input((8, 8, 1))
    features = keras.layers.Flatten(name="features")(inputs)
    base = keras.Model(inputs, [keras.layers.Dense(2)(features),
                                keras.layers.Dense(3)(features)])  # fmt: skip
    with pytest.raises(ValueError, match="the base has 2 outputs"):
        fine_tune(base, x, y, validation_data=val, num_classes=5,
                  log_dir=tmp_path, verbose=0)  # fmt: skip
    result = fine_tune(base, x, y, validation_data=val, num_classes=5,
                       features_layer="features", head_epochs=1, epochs=0,
                       log_dir=tmp_path, verbose=0)  # fmt: skip
    assert result.model.get_layer("head").kernel.shape == (64, 5)


@pytest.mark.backend_independent
def test_an_applications_base_is_loaded_as_keras_applications_gives_it(monkeypatch):
    # No network here: the constructor is replaced, and what it is asked for
    # is checked (a feature extractor with ImageNet weights).
    from keras_recipes.models.transfer import load_base

    asked = {}

    def fake(**kwargs):
        asked.update(kwargs)
        return keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten()])

    monkeypatch.setattr(keras.applications, "MobileNetV2", fake)
    base = load_base("applications:MobileNetV2")
    assert asked == {"include_top": False, "weights": "imagenet", "pooling": "avg"}
    assert isinstance(base, keras.Model)


@pytest.mark.backend_independent
def test_a_keras_hub_base_is_a_backbone_from_its_preset(monkeypatch):
    # KerasHub is not installed here: a stand-in module records the call.
    import sys
    import types

    from keras_recipes.models.transfer import load_base

    asked = []

    class Backbone:
        @staticmethod
        def from_preset(preset):
            asked.append(preset)
            return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])

    hub = types.ModuleType("keras_hub")
    hub.models = types.SimpleNamespace(Backbone=Backbone)
    monkeypatch.setitem(sys.modules, "keras_hub", hub)
    assert isinstance(load_base("keras_hub:resnet_50_imagenet"), keras.Model)
    assert asked == ["resnet_50_imagenet"]
    monkeypatch.setitem(sys.modules, "keras_hub", None)  # not installed
    with pytest.raises(ValueError, match="needs KerasHub"):
        load_base("keras_hub:resnet_50_imagenet")


@pytest.mark.slow
def test_a_stage_killed_mid_fit_continues_from_its_backup(data, tmp_path, monkeypatch):
    from keras_recipes.callbacks import BestCheckpoint

    base, x, y, val = data
    kwargs = {"validation_data": val, "num_classes": 5, "head_epochs": 1,
              "epochs": 4, "log_dir": tmp_path, "verbose": 0}  # fmt: skip
    original = BestCheckpoint.on_epoch_end

    def crash_in_stage_two(self, epoch, logs=None):
        original(self, epoch, logs)
        if "fine_tune" in str(self.filepath) and epoch == 1:
            raise RuntimeError("killed")

    monkeypatch.setattr(BestCheckpoint, "on_epoch_end", crash_in_stage_two)
    with pytest.raises(RuntimeError, match="killed"):
        fine_tune(base, x, y, **kwargs)
    assert (tmp_path / "fine_tune" / "backup").exists()
    monkeypatch.setattr(BestCheckpoint, "on_epoch_end", original)
    result = fine_tune(base, x, y, **kwargs)
    # The rerun ran the epochs after the backup's (epoch 2 on), not 4 again.
    assert 1 <= len(result.histories["fine_tune"]["loss"]) <= 3
    assert json.loads((tmp_path / "fine_tune" / "state.json").read_text())["done"]
    assert not (tmp_path / "fine_tune" / "backup").exists()


@pytest.mark.slow
def test_fine_tuning_under_mixed_precision(data, tmp_path):
    base, x, y, val = data
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        result = fine_tune(base, x, y, validation_data=val, num_classes=5,
                           head_epochs=1, epochs=2, log_dir=tmp_path,
                           verbose=0)  # fmt: skip
    finally:
        keras.mixed_precision.set_global_policy("float32")
    optimizer = result.model.optimizer
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(optimizer.inner_optimizer, kr.DiscriminativeOptimizer)
    assert result.model.get_layer("head").compute_dtype == "float32"
    pretrained = base_weights(base)
    after = base_weights(result.model.get_layer("base"))
    assert all(np.all(np.isfinite(v)) for v in after.values())
    assert any(not np.array_equal(after[k], pretrained[k]) for k in after
               if k.endswith("kernel"))  # fmt: skip
    for path, value in moving_statistics(after).items():
        np.testing.assert_array_equal(value, pretrained[path], err_msg=path)
