#!/usr/bin/env bash
# Runs the test suite once per Keras backend (the backend is fixed when Keras is
# first imported, so each needs its own process). Fails if any backend fails.
# Extra arguments go to pytest; KERAS_RECIPES_BACKENDS="jax" picks backends.
set -u
status=0
for backend in ${KERAS_RECIPES_BACKENDS:-tensorflow jax torch}; do
  echo "=== KERAS_BACKEND=$backend"
  KERAS_BACKEND=$backend python -m pytest "$@" || status=1
done
exit $status
