"""Canonical JSON: the fast path writes exactly what the reference RFC 8785 serializer writes."""

from __future__ import annotations

import math

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from deconflict.errors import InvalidInput
from deconflict.ledger import canonical

# Doubles where Python's repr and ECMAScript's number formatting part ways (exponents, -0, large
# integral values) besides any double at all.
_EDGES = [0.0, -0.0, 1e-4, 9.99e-5, 1e-7, 1.5e-7, 5e-324, 1e16, 1e21, 9.9e20, 2.0**53, 123.0, 0.1]
doubles = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(_EDGES)
integers = st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
keys = st.text(max_size=6) | st.sampled_from(["a", "b", "\u00e9", "\U0001f600", "\ufb01", "\x7f"])
scalars = st.none() | st.booleans() | integers | doubles | st.text(max_size=12)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(values)
def test_canonical_is_the_reference_serialization(value):
    """Any JSON value (doubles and keys where the shortcuts could go wrong included) is
    written byte for byte as the rfc8785 package writes it."""
    assert canonical(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, {"a": [1, -math.inf]}, 2**53, {1: "x"}, "\ud800", {"a": object()}],
)
def test_canonical_refuses_what_rfc8785_refuses(value):
    """Non-finite doubles, integers past 2**53 - 1, non-string keys, lone surrogates and other
    types are refused with InvalidInput, on the fast path as on the reference one."""
    with pytest.raises(InvalidInput):
        canonical(value)
