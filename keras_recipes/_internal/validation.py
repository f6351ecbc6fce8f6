"""Argument checks shared by the package: one wording for every error message."""

import math
import numbers
import os


def check_number(name, value, *, low=None, high=None, low_open=False, high_open=False):
    """Checks that `value` is a real number in a range and returns it as a float.

    Args:
        name: The argument's name, used in the message.
        value: The value received.
        low: Lower bound, or `None` for none.
        high: Upper bound, or `None` for none.
        low_open: `True` if `low` itself is not allowed.
        high_open: `True` if `high` itself is not allowed.

    Returns:
        `value` as a Python float.

    Raises:
        TypeError: If `value` is not a real number (booleans are refused).
        ValueError: If `value` is not finite or lies outside the range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"`{name}` must be a number. Received: {name}={value!r} "
            f"of type {type(value).__name__}"
        )
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"`{name}` must be finite. Received: {name}={value}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        raise ValueError(
            f"`{name}` must be {_describe_range(low, high, low_open, high_open)}. "
            f"Received: {name}={value}"
        )
    return value


def check_positive_int(name, value, *, allow_none=False):
    """Checks that `value` is an integer >= 1 (or `None` when allowed)."""
    return check_int(name, value, low=1, allow_none=allow_none)


def check_int(name, value, *, low, allow_none=False):
    """Checks that `value` is an integer >= `low` (or `None` when allowed)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"`{name}` must be an integer. Received: {name}={value!r} "
            f"of type {type(value).__name__}"
        )
    if value < low:
        raise ValueError(f"`{name}` must be >= {low}. Received: {name}={value}")
    return int(value)


def check_path(name, value, *, allow_none=False):
    """Checks that `value` is a `str` or `os.PathLike` and returns it as a `str`."""
    if value is None and allow_none:
        return None
    if not isinstance(value, (str, os.PathLike)) or value == "":
        raise TypeError(
            f"`{name}` must be a path (a non-empty str or os.PathLike). "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    return os.fspath(value)


def check_choice(name, value, choices):
    """Checks that `value` is one of `choices` and returns it."""
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(
            f"`{name}` must be one of {allowed}. Received: {name}={value!r}"
        )
    return value


def _describe_range(low, high, low_open, high_open):
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    return " and ".join(parts)
