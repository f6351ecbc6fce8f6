"""The package's names and numbers that the command line shows in `--help`.

Kept here, with no import of Keras, KerasTuner or TensorFlow, so that
`keras-recipes SUBCOMMAND --help` lists its choices and defaults without
paying for those imports (about 7 s). The modules that own them import them
from here and re-export them: `keras_recipes.schedules` (schedule names,
1cycle's shapes and momenta), `keras_recipes.models` (the initializer
table), `keras_recipes.tuning` (search algorithms, KerasTuner's variables).
"""

# Every schedule the package knows by name. "none" keeps the compiled rate;
# "performance" (on plateau) depends on the metrics, so it has no curve
# before training: `build_schedule` refuses both.
SCHEDULE_NAMES = (
    "none",
    "power",
    "exponential",
    "piecewise",
    "performance",
    "one-cycle",
)
IN_GRAPH_SCHEDULES = ("power", "exponential", "piecewise", "one-cycle")
EXPONENTIAL_DECAY_RATE = 0.1

# 1cycle's two forms, and the momentum at the ends of the cycle and at its
# peak (fastai's `moms`).
ONE_CYCLE_SHAPES = ("cosine", "linear")
MAX_MOMENTUM = 0.95
MIN_MOMENTUM = 0.85

# The initializer of each activation. He keeps the variance of ReLU-like
# units (which zero half their input) from halving at every layer; LeCun is
# what SELU's self-normalization assumes; Glorot suits symmetric saturating
# units and linear outputs. (Glorot & Bengio 2010; He et al. 2015,
# arXiv:1502.01852; Klambauer et al. 2017, arXiv:1706.02515.)
INITIALIZERS = {
    "relu": "he_normal",
    "relu6": "he_normal",
    "leaky_relu": "he_normal",
    "prelu": "he_normal",
    "elu": "he_normal",
    "gelu": "he_normal",
    "silu": "he_normal",
    "swish": "he_normal",
    "mish": "he_normal",
    "selu": "lecun_normal",
    "tanh": "glorot_uniform",
    "sigmoid": "glorot_uniform",
    "softmax": "glorot_uniform",
    "linear": "glorot_uniform",
}

# The activations the builders take by name for hidden layers: PReLU is a
# layer with weights (no Keras activation function bears its name), and
# softmax and linear belong to outputs.
HIDDEN_ACTIVATIONS = tuple(
    name for name in INITIALIZERS if name not in ("prelu", "softmax", "linear")
)

# KerasTuner's search algorithms, by the names `make_tuner` takes.
SEARCH_ALGORITHMS = ("random", "bayesian", "hyperband", "grid")

# KerasTuner's chief/worker variables, by the argument that sets each.
KERASTUNER_ENVIRONMENT = {
    "tuner_id": "KERASTUNER_TUNER_ID",
    "oracle_ip": "KERASTUNER_ORACLE_IP",
    "oracle_port": "KERASTUNER_ORACLE_PORT",
}
