"""Which part a process plays in a distributed search, from one place.

KerasTuner's chief/worker mode is set by three environment variables:
`KERASTUNER_TUNER_ID` (`chief`, or `tuner0`, `tuner1`, ... for workers),
`KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT` (the chief's address).
`distributed_role` reads them (or arguments that stand for them) with
KerasTuner's own rule, and says what is missing; `search` and
`keras-recipes tune` both call it.
"""

import contextlib
import os

from keras_recipes._internal.names import KERASTUNER_ENVIRONMENT

# Argument name -> the environment variable KerasTuner reads.
ENVIRONMENT = KERASTUNER_ENVIRONMENT


def distributed_role(tuner_id=None, oracle_ip=None, oracle_port=None, labels=None):
    """`"single"`, `"chief"` or `"worker"`.

    Each argument left `None` is read from its environment variable. Without
    an oracle address the search runs alone; with one, the tuner id decides:
    an id containing `chief` serves the oracle (KerasTuner's rule).

    Args:
        tuner_id, oracle_ip, oracle_port: The values, or `None` for the
            environment's.
        labels: How the messages call each value (`{"tuner_id":
            "--tuner-id", ...}` for a command line); default: the variables.

    Raises:
        ValueError: If a tuner id or port is given without the chief's
            address (a worker would run a search of its own), or an address
            without the id or the port. The message names the variables.
    """
    label = {**ENVIRONMENT, **(labels or {})}
    given = {"tuner_id": tuner_id, "oracle_ip": oracle_ip, "oracle_port": oracle_port}
    values = {
        name: os.environ.get(variable) if given[name] is None else str(given[name])
        for name, variable in ENVIRONMENT.items()
    }
    # Set counts, even if empty (KerasTuner's rule: `in os.environ`).
    if values["oracle_ip"] is None:
        stray = [label[n] for n in ("tuner_id", "oracle_port") if values[n] is not None]
        if stray:
            raise ValueError(
                f"{', '.join(stray)} without {label['oracle_ip']}: give "
                "the chief's address to search together, or neither to search "
                f"alone. Received: {_describe(values)}"
            )
        return "single"
    missing = [label[n] for n in ("tuner_id", "oracle_port") if values[n] is None]
    if missing:
        raise ValueError(
            f"distributed search with {label['oracle_ip']} also needs "
            f"{', '.join(missing)}. Received: {_describe(values)}"
        )
    return "chief" if "chief" in values["tuner_id"] else "worker"


def check_overwrite(role, overwrite):
    """Refuses `overwrite=True` on a worker: it would delete the project that
    the chief and the other workers share.

    Raises:
        ValueError: On a worker with `overwrite=True`.
    """
    if role == "worker" and overwrite:
        raise ValueError(
            "overwrite=True on a worker of a distributed search would delete the "
            "project the chief and the other workers share; pass it to the chief "
            "only. Received: overwrite=True on a worker"
        )


@contextlib.contextmanager
def kerastuner_environment(tuner_id, oracle_ip, oracle_port):
    """Sets the variables KerasTuner reads for the `with` block, then puts
    back what was there."""
    saved = {variable: os.environ.get(variable) for variable in ENVIRONMENT.values()}
    values = {"tuner_id": tuner_id, "oracle_ip": oracle_ip, "oracle_port": oracle_port}
    try:
        for name, variable in ENVIRONMENT.items():
            if values[name] is not None:
                os.environ[variable] = str(values[name])
        yield
    finally:
        for variable, value in saved.items():
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value


def _describe(values):
    return ", ".join(f"{ENVIRONMENT[n]}={v!r}" for n, v in values.items())
