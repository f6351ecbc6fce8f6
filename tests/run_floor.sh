#!/usr/bin/env bash
# The fast tier (pytest -m "not slow") on the oldest Keras setup.cfg
# declares, on the JAX backend, in a virtual environment of its own
# (tests/floor-requirements.txt pins the releases; made once, then reused).
# Extra arguments go to pytest. KERAS_RECIPES_FLOOR_VENV names the folder
# (default .venv-floor); KERAS_RECIPES_TEST_PROCESSES as in
# tests/run_all_backends.sh.
set -eu
cd "$(dirname "$0")/.."
venv=${KERAS_RECIPES_FLOOR_VENV:-.venv-floor}
processes=${KERAS_RECIPES_TEST_PROCESSES:-2}
want=$(sed -n 's/^keras==//p' tests/floor-requirements.txt)
if ! "$venv/bin/python" -c "import keras, sys; sys.exit(keras.version() != '$want')" 2>/dev/null; then
  echo "=== making $venv (Keras $want)"
  python -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -r tests/floor-requirements.txt \
    -c tests/floor-requirements.txt -e ".[test]"
fi
echo "=== Keras $want, KERAS_BACKEND=jax (the oldest declared release)"
KERAS_BACKEND=jax KERAS_RECIPES_BACKEND_INDEPENDENT=deselect \
  "$venv/bin/python" -m pytest -n "$processes" -m "not slow" -p no:cacheprovider "$@"
