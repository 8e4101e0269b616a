"""Canonical JSON: the fast path writes exactly what the reference RFC 8785 serializer writes."""

from __future__ import annotations

import math
import random

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from deconflict.errors import InvalidInput, VerificationFailed
from deconflict.ledger import Opening, canonical, parse_canonical, verify_opening
from deconflict.ledger.commit import commit_canonical

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


@settings(max_examples=400, deadline=None)
@given(doubles | integers | st.integers() | st.booleans() | st.none())
def test_a_number_is_written_as_the_reference_writes_it(value):
    """Alone and inside a value, a number is written as ``rfc8785`` writes it, and refused
    where it refuses it (integers past 2**53 - 1)."""
    try:
        expected = rfc8785.dumps(value).decode()
    except rfc8785.CanonicalizationError:
        with pytest.raises(InvalidInput):
            canonical([value])
        return
    assert canonical(value) == expected.encode()
    assert canonical([value]) == f"[{expected}]".encode()


@settings(max_examples=400, deadline=None)
@given(st.text() | st.sampled_from(['"', "\\", "\x00\x1f\x7f", "\u2028\u2029", "\ud800", "é"]))
def test_a_string_is_written_as_the_reference_writes_it(value):
    """A string (a key too) is written as ``rfc8785`` writes it; a lone surrogate is refused
    where it refuses it."""
    try:
        expected = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        with pytest.raises(InvalidInput):
            canonical({"k": value})
        return
    assert canonical(value) == expected
    assert canonical({value: 1}) == rfc8785.dumps({value: 1})


def test_a_commitment_salt_given_must_be_32_bytes():
    """A salt handed to ``commit_canonical`` is used as it is, and refused if not 32 bytes."""
    salt, digest = commit_canonical(b"{}", bytes(range(32)))
    assert salt == bytes(range(32))
    verify_opening(Opening(digest, salt, {}))
    with pytest.raises(InvalidInput):
        commit_canonical(b"{}", bytes(31))


def test_doubles_of_every_magnitude_are_written_as_the_reference_writes_them():
    """The fast path's shortest digits of a double are ECMAScript's, from the smallest the fast
    path takes (1e-4) to past 2**53, integral or not: 20,000 doubles drawn at random across
    those magnitudes."""
    rng = random.Random(8785)
    for _ in range(20_000):
        value = rng.uniform(1.0, 10.0) * 10.0 ** rng.randint(-5, 17) * rng.choice((1, -1))
        assert canonical({"x": value}) == rfc8785.dumps({"x": value}), value


@pytest.mark.parametrize(
    "raw", [b"[" * 100_000 + b"]" * 100_000, b'{"n":' + b"9" * 5_000 + b"}"], ids=["deep", "long"]
)
def test_a_receipt_past_what_json_reads_is_refused_as_not_json(raw):
    """A receipt nested past the recursion limit, or with an integer too long to read, is
    VerificationFailed like any other bad receipt (it was a traceback)."""
    with pytest.raises(VerificationFailed, match="not valid JSON"):
        parse_canonical(raw, "receipt")
