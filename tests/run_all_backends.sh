#!/usr/bin/env bash
# Runs the test suite once per Keras backend (the backend is fixed when Keras is
# first imported, so each needs its own process). Fails if any backend fails.
# Extra arguments go to pytest; KERAS_RECIPES_BACKENDS="jax" picks backends.
# Tests marked `backend_independent` run in the first backend's pass only (the
# later passes deselect them: see tests/conftest.py).
set -u
status=0
once=run
for backend in ${KERAS_RECIPES_BACKENDS:-tensorflow jax torch}; do
  echo "=== KERAS_BACKEND=$backend"
  KERAS_BACKEND=$backend KERAS_RECIPES_BACKEND_INDEPENDENT=$once \
    python -m pytest "$@" || status=1
  once=deselect
done
exit $status
