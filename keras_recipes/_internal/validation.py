"""Argument checks shared by the package: one wording for every error message."""

import math
import numbers
import os
import string

import numpy as np


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


def check_int(name, value, *, low, high=None, allow_none=False):
    """Checks that `value` is an integer in [`low`, `high`] (or `None` when
    allowed) and returns it as an `int`.

    A float, even a whole one such as `2.0`, is refused rather than
    truncated, and so is a bool. `high` caps a value that would make a call
    run for ever (a sweep of 10**30 steps).
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"`{name}` must be an integer. Received: {name}={value!r} "
            f"of type {type(value).__name__}"
        )
    if value < low:
        raise ValueError(f"`{name}` must be >= {low}. Received: {name}={value}")
    if high is not None and value > high:
        raise ValueError(f"`{name}` must be <= {high:,}. Received: {name}={value:,}")
    return int(value)


def check_bool(name, value):
    """Checks that `value` is a bool (NumPy's too) and returns it as one.

    `"False"`, `0`, `None` or a list are refused: `bool("False")` is true.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"`{name}` must be True or False. Received: {name}={value!r} "
            f"of type {type(value).__name__}"
        )
    return bool(value)


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


def check_int_sequence(name, value, *, low=1, high=None, min_length=1):
    """Checks that `value` is a list or tuple of at least `min_length`
    integers in [`low`, `high`] and returns it as a tuple of ints."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise TypeError(
            f"`{name}` must be a list or tuple of integers. Received: "
            f"{name}={value!r} of type {type(value).__name__}"
        )
    if len(value) < min_length:
        raise ValueError(
            f"`{name}` must hold at least {min_length} value"
            f"{'s' if min_length > 1 else ''}. Received: {name}={value!r}"
        )
    for item in value:
        if isinstance(item, bool) or not isinstance(item, numbers.Integral):
            raise TypeError(
                f"`{name}` must hold integers. Received: {name}={value!r} "
                f"(item {item!r} of type {type(item).__name__})"
            )
        if item < low or (high is not None and item > high):
            allowed = f">= {low}" if high is None else f"in [{low}, {high:,}]"
            raise ValueError(
                f"`{name}` must hold integers {allowed}. Received: {name}={value!r}"
            )
    return tuple(int(item) for item in value)


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


def check_format_template(name, filepath):
    """Checks the `str.format` fields of a file name template (a checkpoint
    path), at construction; returns it.

    Only named fields are allowed (`{epoch}`, `{batch}`, a metric such as
    `{val_loss:.4f}`); `{}` or `{0}` would fail at the first save.
    """
    try:
        fields = list(string.Formatter().parse(filepath))
    except ValueError as error:
        raise ValueError(
            f"`{name}` is not a valid template ({error}); write a literal "
            f"brace as '{{{{' or '}}}}'. Received: {name}={filepath!r}"
        ) from None
    sample = {}
    for _, field, _, _ in fields:
        if field is None:
            continue
        if not field.isidentifier():
            raise ValueError(
                f"`{name}` may only hold named fields such as {{epoch}}, "
                "{batch} or a logged metric ({val_loss:.4f}). Received: "
                f"{name}={filepath!r} (field {{{field}}})"
            )
        sample[field] = 1 if field in ("epoch", "batch") else 0.5
    try:
        filepath.format(**sample)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"`{name}` has a format its values cannot take ({error}). "
            f"Received: {name}={filepath!r}"
        ) from None
    return filepath


def check_samples(x_name, x, y_name, y):
    """Checks that `x` and `y` hold as many samples (at least 1); with
    `y=None` (`x` a dataset, or no labels) there is nothing to compare."""
    if y is None:
        return
    try:
        lengths = len(x), len(y)
    except TypeError:
        raise TypeError(
            f"`{x_name}` and `{y_name}` must be arrays of samples. Received: "
            f"{x_name} of type {type(x).__name__}, {y_name} of type "
            f"{type(y).__name__}"
        ) from None
    if lengths[0] != lengths[1] or lengths[0] == 0:
        raise ValueError(
            f"`{x_name}` and `{y_name}` must hold the same number of samples "
            f"(at least 1). Received: len({x_name})={lengths[0]}, "
            f"len({y_name})={lengths[1]}"
        )


def check_validation_data(validation_data, *, allow_none=False):
    """Checks that `validation_data` is a pair `(x_val, y_val)` of as many
    samples each (or `None` where allowed)."""
    if validation_data is None and allow_none:
        return
    if not isinstance(validation_data, (list, tuple)) or len(validation_data) != 2:
        raise TypeError(
            "`validation_data` must be a pair (x_val, y_val). Received: "
            f"validation_data={validation_data!r}"
        )
    check_samples("validation_data[0]", validation_data[0],
                  "validation_data[1]", validation_data[1])  # fmt: skip
