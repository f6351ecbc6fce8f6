"""Values a careless call could pass: the Hypothesis strategy of the argument tests."""

import math

from hypothesis import strategies as st

ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 64),
    st.integers(10**7, 10**30),
    st.integers(-(10**30), -(10**7)),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.lists(st.integers(-3, 40), max_size=3),
    st.tuples(st.floats(-2, 2), st.integers(0, 3)),
    st.just(math.nan),
    st.just("abc"),
    st.just({}),
)
