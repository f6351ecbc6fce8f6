#!/usr/bin/env bash
# Runs the test suite once per Keras backend (the backend is fixed when Keras is
# first imported, so each needs its own process), then the fast tier on the
# oldest declared Keras (tests/run_floor.sh; KERAS_RECIPES_FLOOR=0 leaves it
# out). Fails if any pass fails.
# Extra arguments go to pytest; KERAS_RECIPES_BACKENDS="jax" picks backends.
# Tests marked `backend_independent` run in the first backend's pass only (the
# later passes deselect them: see tests/conftest.py).
# Each pass runs on KERAS_RECIPES_TEST_PROCESSES pytest-xdist processes
# (default 2: CI's cores; 0 runs in this process, as plain pytest does).
set -u
processes=${KERAS_RECIPES_TEST_PROCESSES:-2}
status=0
once=run
for backend in ${KERAS_RECIPES_BACKENDS:-tensorflow jax torch}; do
  echo "=== KERAS_BACKEND=$backend"
  KERAS_BACKEND=$backend KERAS_RECIPES_BACKEND_INDEPENDENT=$once \
    python -m pytest -n "$processes" "$@" || status=1
  once=deselect
done
if [ "${KERAS_RECIPES_FLOOR:-1}" != 0 ]; then
  bash "$(dirname "$0")/run_floor.sh" "$@" || status=1
fi
exit $status
