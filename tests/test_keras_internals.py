"""The internals fence: each Keras / KerasTuner internal we touch, checked.

One test per touch in `keras_recipes/_internal/keras_internals/`. When a
release changes the internal, the test fails with the installed versions and
what changed, pointing at the one module to update.
"""

import contextlib
import inspect

import keras
import keras_tuner
import numpy as np
import pytest
from tensorboard.plugins.hparams import api as hparams_api

from keras_recipes._internal import keras_internals as fence
from tests.conftest import BACKEND, ones, probe_model, steps_per_execution_values


def require(condition, what):
    if not condition:
        pytest.fail(
            f"{what} (Keras {keras.version()}, KerasTuner "
            f"{keras_tuner.__version__}): the internal changed; update "
            "keras_recipes/_internal/keras_internals/",
            pytrace=False,
        )


def kernel(model):
    return float(np.ravel(keras.ops.convert_to_numpy(model.layers[0].kernel))[0])


@pytest.mark.parametrize(
    "metric, direction",
    [
        (keras.metrics.Accuracy(), "up"),
        (keras.metrics.PearsonCorrelation(), "up"),
        (keras.metrics.MeanSquaredError(), "down"),
        (keras.metrics.Mean(), None),
    ],
)
def test_metric_direction_is_the_metrics_own(metric, direction):
    # `_direction` is what Keras's own EarlyStopping / ModelCheckpoint read
    # for mode="auto" (3.8 and 3.15). Where a release drops it, the name
    # decides: `test_a_metric_without_direction_falls_back_to_its_name`.
    require(
        fence.metric_direction(metric) == direction,
        f"{type(metric).__name__}._direction is not {direction!r}",
    )


def test_a_fresh_train_function_is_traced_anew():
    # Keras's JAX trainer jits `self.train_step`: a rebuilt function would get
    # the trace of the one before it. A rate changed from Python between the
    # builds shows which step ran: the kernel moves by -lr (gradient 1).
    model = probe_model(keras.optimizers.SGD(0.1))
    x, y = ones(4)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)  # Traced at lr 0.1.
    # Kept alive, as `train_step.py` keeps it to put back: while it lives,
    # JAX serves its trace to a new jit of an equal function.
    saved = model.train_function
    optimizer = model.optimizer
    compiled = fence.learning_rate_slot(optimizer)
    fence.set_learning_rate_slot(optimizer, lambda: keras.ops.convert_to_tensor(0.5))
    try:
        fence.make_fresh_train_function(model)
        before = kernel(model)
        # `fit` keeps the function it finds (`make_train_function()`).
        model.fit(x, y, batch_size=4, epochs=1, verbose=0)
        moved = before - kernel(model)
    finally:
        fence.set_learning_rate_slot(optimizer, compiled)
        model.train_function = saved
    require(
        "train_step" not in model.__dict__,
        "the model's own `train_step` was left on the instance",
    )
    require(
        moved == pytest.approx(0.5),
        f"the rebuilt train step applied lr {moved:g}, not the 0.5 it was "
        f"rebuilt for: it ran the trace of the step before (JAX {_jax_version()})",
    )


class StepInputs:
    """`values()` for the step: a rate held in a variable; what the step
    received while it runs (JAX)."""

    def __init__(self, rate):
        self.rate = rate
        self.received = None

    def values(self):
        return (self.rate.value,)

    @contextlib.contextmanager
    def receive(self, values):
        self.received = values[0]
        try:
            yield
        finally:
            self.received = None


@pytest.mark.parametrize("steps_per_execution", steps_per_execution_values())
def test_step_inputs_reach_the_step_at_every_call(steps_per_execution):
    # JAX's jit takes an array outside the step's inputs as a constant: the
    # rate must come in beside each batch (Keras's `train_function(state,
    # iterator)` takes `next(iterator)` as the batch of a step) for one trace
    # to serve a later fit with another rate. Elsewhere the step reads the
    # variable when it runs. The kernel moves by -lr a step (gradient 1).
    model = probe_model(
        keras.optimizers.SGD(0.1), steps_per_execution=steps_per_execution
    )
    x, y = ones(8)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    inputs = StepInputs(keras.Variable(0.0, trainable=False))
    evaluations = []

    def learning_rate():  # Evaluated at each trace (each step on PyTorch).
        evaluations.append(inputs.received)
        return inputs.rate if inputs.received is None else inputs.received

    optimizer = model.optimizer
    compiled = fence.learning_rate_slot(optimizer)
    fence.set_learning_rate_slot(optimizer, learning_rate)
    moved = []
    try:
        fence.make_fresh_train_function(model, step_inputs=inputs)
        for rate in (0.25, 0.5):
            inputs.rate.assign(rate)
            before = kernel(model)
            model.fit(x, y, batch_size=4, epochs=1, verbose=0)  # 2 steps.
            moved.append(before - kernel(model))
    finally:
        fence.set_learning_rate_slot(optimizer, compiled)
    require(
        moved == pytest.approx([0.5, 1.0]),
        f"a step built with step inputs moved the kernel by {moved}, not by "
        f"2 steps of the rates 0.25 and 0.5 given at each call (JAX "
        f"{_jax_version()})",
    )
    if BACKEND != "torch":
        require(
            len(evaluations) == 1,
            f"the step was traced {len(evaluations)} times for two fits",
        )
    if BACKEND == "jax":
        require(
            evaluations[0] is not None and inputs.received is None,
            "the step did not receive its inputs while traced",
        )


def _jax_version():
    try:
        import jax
    except ImportError:
        return "not installed"
    return jax.__version__


class LiveReads(keras.callbacks.Callback):
    """After each batch: the first number of each variable `live_reader`
    returns, and whether the JAX state was synced then."""

    def __init__(self, variables):
        super().__init__()
        self.variables, self.seen = variables, []

    def on_train_begin(self, logs=None):
        self.fit_model = self.model
        self.read = fence.live_reader(self.fit_model, self.variables)

    def on_train_batch_end(self, batch, logs=None):
        values = [
            float(np.ravel(keras.ops.convert_to_numpy(v))[0]) for v in self.read()
        ]
        synced = getattr(self.fit_model, "_jax_state_synced", False)
        self.seen.append((values, synced))


def test_live_reader_reads_the_running_fit_without_a_state_sync():
    # On JAX the fit's state lives in the trainer's `_jax_state` mid-epoch;
    # the reader takes its values from there and leaves `_jax_state_synced`
    # False (`Callback.model` would sync everything back).
    model = probe_model(keras.optimizers.SGD(0.1))
    x, y = ones(16)
    reads = LiveReads([model.optimizer.iterations, model.layers[0].kernel])
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[reads])
    # Gradient 1 at every step: after step t the kernel is -0.1 t.
    expected = [(t, -0.1 * t) for t in range(1, 9)]
    got = [(int(t), k) for (t, k), _ in reads.seen]
    require(
        np.allclose(got, expected, atol=1e-6),
        f"the reader saw (iterations, kernel) {got}, not {expected}",
    )
    if BACKEND == "jax":
        require(
            not any(synced for _, synced in reads.seen),
            "reading the fit's state synced it (`_jax_state_synced` was True)",
        )


def test_live_reader_without_the_trainers_state_syncs_and_is_right(monkeypatch):
    # The fallback, for a trainer that keeps no `_jax_state`: the public
    # `jax_state_sync`, then the variables (never the stale ones).
    from keras_recipes._internal.keras_internals import training

    monkeypatch.setattr(training, "_jax_state", lambda model: training._MISSING)
    model = probe_model(keras.optimizers.SGD(0.1))
    x, y = ones(16)
    reads = LiveReads([model.layers[0].kernel])
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[reads])
    kernels = [values[0] for values, _ in reads.seen]
    np.testing.assert_allclose(kernels, [-0.1, -0.2, -0.3, -0.4], atol=1e-6)


def test_watch_next_fit_runs_before_the_fits_callbacks_begin():
    # What undoes a fit that raised (Keras then calls no `on_train_end`):
    # `fit` calls `self.make_train_function()` before `on_train_begin`.
    model = probe_model(keras.optimizers.SGD(0.1))
    x, y = ones(8)
    order = []

    class Begin(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            order.append("on_train_begin")

    fence.watch_next_fit(model, lambda: order.append("hook"))
    try:
        model.make_train_function(force=True)  # Ours, not a fit's: no hook.
        model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[Begin()])
    finally:
        fence.unwatch_next_fit(model)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[Begin()])
    require(
        order == ["hook", "on_train_begin", "on_train_begin"],
        f"`fit` no longer calls `make_train_function()` before its callbacks "
        f"begin (calls seen: {order})",
    )


def test_learning_rate_slot_is_what_the_step_evaluates():
    model = probe_model(keras.optimizers.SGD(0.1))
    optimizer = model.optimizer
    slot = fence.learning_rate_slot(optimizer)
    require(
        isinstance(slot, keras.Variable),
        "optimizer._learning_rate of an optimizer compiled with a float is no "
        f"keras.Variable (it is a {type(slot).__name__})",
    )
    optimizer.build(model.trainable_variables)
    variables = len(optimizer.variables)
    # A callable in the slot is evaluated by the compiled step, every step.
    fence.set_learning_rate_slot(optimizer, lambda: keras.ops.convert_to_tensor(0.5))
    model.make_train_function(force=True)
    model.fit(*ones(3), batch_size=1, epochs=1, verbose=0, shuffle=False)
    require(
        kernel(model) == pytest.approx(-1.5),
        "a callable in optimizer._learning_rate no longer sets the rate of the "
        f"compiled step (kernel {kernel(model)} after 3 steps at 0.5, not -1.5)",
    )
    require(
        len(optimizer.variables) == variables,
        "setting optimizer._learning_rate changed the optimizer's variables",
    )
    fence.set_learning_rate_slot(optimizer, slot)
    require(
        fence.learning_rate_slot(optimizer) is slot,
        "optimizer._learning_rate does not read back what was set",
    )


class ReadOrderSGD(keras.optimizers.SGD):
    """Records the order of its learning-rate and momentum reads."""

    reads = []

    @property
    def momentum(self):
        ReadOrderSGD.reads.append("momentum")
        return self.recorded_momentum

    @momentum.setter
    def momentum(self, value):
        self.recorded_momentum = value


def test_the_step_reads_the_learning_rate_before_the_momentum():
    # On PyTorch the driver stores each step's momentum as a plain float when
    # the step evaluates its learning rate (driver.py): Keras's `apply` must
    # read the rate first.
    model = probe_model(ReadOrderSGD(0.1, momentum=0.9))
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)
    slot = fence.learning_rate_slot(optimizer)

    def learning_rate():
        ReadOrderSGD.reads.append("learning_rate")
        return slot

    fence.set_learning_rate_slot(optimizer, learning_rate)
    ReadOrderSGD.reads.clear()
    model.make_train_function(force=True)
    model.fit(*ones(2), batch_size=1, epochs=1, verbose=0)
    fence.set_learning_rate_slot(optimizer, slot)
    reads = ReadOrderSGD.reads
    require(
        "learning_rate" in reads and "momentum" in reads,
        f"a step read {sorted(set(reads))}, not the learning rate and momentum",
    )
    require(
        reads.index("learning_rate") < reads.index("momentum"),
        "the optimizer's step reads its momentum before its learning rate",
    )


def test_learning_rate_slot_holds_a_compiled_schedule():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    optimizer = keras.optimizers.SGD(schedule)
    require(
        fence.learning_rate_slot(optimizer) is schedule,
        "optimizer._learning_rate no longer holds the compiled schedule",
    )


def test_set_initial_epoch_is_where_fit_starts():
    model = probe_model(keras.optimizers.SGD(0.1))
    fence.set_initial_epoch(model, 3)
    history = model.fit(*ones(2), batch_size=1, epochs=5, verbose=0)
    require(
        history.epoch == [3, 4],
        f"model._initial_epoch = 3 no longer starts fit there (epochs run: "
        f"{history.epoch}, expected [3, 4])",
    )
    fence.set_initial_epoch(model, None)
    history = model.fit(*ones(2), batch_size=1, epochs=2, verbose=0)
    require(history.epoch == [0, 1], "model._initial_epoch = None is not 'unset'")


@pytest.mark.slow
def test_the_tensorboard_hook_is_called_for_every_trial(tmp_path):
    hook = keras_tuner.Tuner._configure_tensorboard_dir
    require(
        list(inspect.signature(hook).parameters)
        == ["self", "callbacks", "trial", "execution"],
        "Tuner._configure_tensorboard_dir(callbacks, trial, execution) changed "
        f"its signature to {inspect.signature(hook)}",
    )
    calls = []

    class Search(fence.TensorBoardHook, keras_tuner.RandomSearch):
        def configure_trial_tensorboard(self, callbacks, trial, execution=0):
            calls.append((trial.trial_id, execution, len(callbacks)))

    def build(hp):
        return probe_model(keras.optimizers.SGD(hp.Choice("lr", [0.1, 0.2])))

    tuner = Search(build, objective="loss", max_trials=2, directory=tmp_path, seed=1)
    tuner.search(*ones(2), epochs=1, verbose=0, callbacks=[keras.callbacks.History()])
    require(
        sorted(c[0] for c in calls) == sorted(tuner.oracle.trials),
        "Tuner._configure_tensorboard_dir is no longer called once per trial "
        f"(calls: {calls})",
    )


def space():
    hp = keras_tuner.HyperParameters()
    hp.Choice("activation", ["relu", "selu"])
    with hp.conditional_scope("activation", ["selu"]):
        hp.Boolean("alpha_dropout")
    hp.Int("layers", 1, 4)
    hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")
    hp.Fixed("batch_size", 32)
    return hp


def test_hparams_of_is_kerastuners_conversion_of_the_active_values():
    values = {h.name: v for h, v in fence.hparams_of(space(), hparams_api).items()}
    require(
        values
        == {
            "activation": "relu",
            "layers": 1,
            "learning_rate": 1e-4,
            "batch_size": 32,
        },  # fmt: skip
        "KerasTuner's convert_hyperparams_to_hparams changed: it returned "
        f"{values} (the inactive `alpha_dropout` must be left out)",
    )


def test_hparam_domains_cover_inactive_hyperparameters_too():
    domains = {h.name: h.domain for h in fence.hparam_domains(space(), hparams_api)}
    require(
        set(domains)
        == {
            "activation",
            "alpha_dropout",
            "layers",
            "learning_rate",
            "batch_size",
        },  # fmt: skip
        f"hparam_domains returned the names {sorted(domains)}",
    )
    require(
        isinstance(domains["layers"], hparams_api.IntInterval)
        and isinstance(domains["learning_rate"], hparams_api.RealInterval)
        and set(domains["activation"].values) == {"relu", "selu"},
        f"KerasTuner maps the domains otherwise now: {domains}",
    )


def test_the_state_writes_we_replace_are_keras_tuners_own():
    from keras_tuner.src.engine import base_tuner, oracle, tuner, tuner_utils

    for owner, names in [
        (oracle.Oracle, ["save", "reload", "_save_trial", "_get_oracle_fname"]),
        (oracle.Oracle, ["_get_trial_dir", "get_state"]),
        (base_tuner.BaseTuner, ["_is_worker", "_get_tuner_fname", "save"]),
        (tuner.Tuner, ["_try_build", "_get_build_config_fname"]),
        (tuner.Tuner, ["_build_and_fit_model"]),
        (tuner_utils.SaveBestEpoch, ["_save_model"]),
    ]:
        for name in names:
            require(hasattr(owner, name), f"{owner.__name__}.{name} is gone")
    # The oracle's reload fix reads these attributes of a reloaded oracle.
    probe = keras_tuner.oracles.RandomSearchOracle(objective="loss", max_trials=1)
    for name in ("_retry_queue", "end_order", "trials"):
        require(hasattr(probe, name), f"Oracle().{name} is gone")
    # `end_trial` is wrapped (a lock); its text is in the module's.
    source = inspect.getsource(oracle)
    require(
        "self._save_trial(trial)\n        self.save()" in source,
        "Oracle.end_trial no longer saves through _save_trial and save",
    )
    source = inspect.getsource(base_tuner.BaseTuner.__init__)
    require(
        "self._get_tuner_fname()" in source,
        "BaseTuner.__init__ no longer reloads on the tuner's file",
    )


def test_trial_checkpoint_is_what_keras_tuner_writes_and_loads(tmp_path):
    from keras_tuner.src.engine import tuner

    for method in (tuner.Tuner.run_trial, tuner.Tuner.load_model):
        require(
            "self._get_checkpoint_fname(trial.trial_id)" in inspect.getsource(method),
            f"Tuner.{method.__name__} no longer uses _get_checkpoint_fname",
        )
    probe = keras_tuner.RandomSearch(
        lambda hp: probe_model("sgd"),
        objective="loss",
        max_trials=1,
        directory=str(tmp_path),
        project_name="p",
    )
    # load_trial_model is load_model's body without the session clearing.
    source = inspect.getsource(tuner.Tuner.load_model)
    for line in ("self._try_build(trial.hyperparameters)", "model.build_from_config("):
        require(line in source, f"Tuner.load_model no longer has {line!r}")
    require(
        "distribution_strategy" in source and hasattr(probe, "distribution_strategy"),
        "Tuner.load_model no longer loads under the tuner's distribution_strategy",
    )
    path = fence.trial_checkpoint(probe, "00")
    require(
        path == tmp_path / "p" / "trial_00" / "checkpoint.weights.h5",
        f"Tuner._get_checkpoint_fname names {path}",
    )


def test_make_state_safe_keeps_the_oracles_class_and_writes_atomically(tmp_path):
    def hypermodel(hp):
        hp.Int("units", 1, 2)
        return keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])

    tuner = keras_tuner.RandomSearch(
        hypermodel, objective="loss", max_trials=1, directory=tmp_path
    )
    kind = type(tuner.oracle)
    fence.make_state_safe(tuner)
    assert isinstance(tuner.oracle, kind) and type(tuner.oracle) is not kind
    fence.save_tuner_state(tuner)
    fence.save_tuner_state(tuner)
    project = tmp_path / "untitled_project"
    assert (project / "oracle.json.prev").exists()
    assert (project / "tuner0.json.prev").exists()


def test_the_chief_loop_we_replace_is_keras_tuners_own():
    # serve_oracle is start_server's loop on these names; if KerasTuner's
    # loop changes (a timeout of its own?), ours must be compared again.
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    require(hasattr(oracle_chief, "OracleServicer"), "OracleServicer is gone")
    require(hasattr(oracle_chief, "exit_chief"), "exit_chief is gone")
    require(hasattr(protos, "get_service_grpc"), "protos.get_service_grpc is gone")
    servicer = oracle_chief.OracleServicer(oracle=None)
    require(servicer.stop_triggered is False, "OracleServicer.stop_triggered is gone")
    source = inspect.getsource(oracle_chief.start_server)
    for line in ("if oracle_servicer.stop_triggered:", "while not exit_chief(oracle):"):
        require(line in source, f"start_server's loop no longer has {line!r}")
    source = inspect.getsource(keras_tuner.engine.base_tuner.BaseTuner.search)
    require(
        "oracle_chief.start_server(self.oracle)" in source,
        "BaseTuner.search no longer serves the chief with start_server",
    )


def test_a_metric_without_direction_falls_back_to_its_name(monkeypatch):
    # A release without `Metric._direction`: the fallback of
    # `test_metric_direction_is_the_metrics_own`, taken.
    from keras_recipes.callbacks._monitor import Monitor

    metric = keras.metrics.AUC()
    monkeypatch.delattr(metric, "_direction", raising=False)
    monkeypatch.delattr(type(metric), "_direction", raising=False)
    assert fence.metric_direction(metric) is None

    class Model:  # What `Monitor.value` reads of a model: its metrics.
        metrics = [metric]

    monitor = Monitor("val_auc")
    monitor.value({"val_auc": 0.5}, Model())
    assert monitor.mode == "max"  # By the word `auc`.


def test_an_optimizer_without_a_learning_rate_slot_is_refused_naming_keras():
    # The fallback of `learning_rate_slot` on a release whose optimizers keep
    # no `_learning_rate`: one line naming the installed Keras.
    class NoSlot:
        pass

    with pytest.raises(ValueError, match=rf"on Keras {keras.version()}: its optim"):
        fence.learning_rate_slot(NoSlot())
