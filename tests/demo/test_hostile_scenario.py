"""A scenario file is intake too (security.md §4.1): a number no float can hold is one clear
error naming its field, not a traceback."""

from __future__ import annotations

import pytest

from deconflict.demo.docreader import Reader
from deconflict.errors import InvalidDocument


def test_a_duration_of_hundreds_of_digits_is_refused_naming_it():
    """security.md §4.1: a 400-digit lead time in a scenario names the field."""
    reader = Reader("scenario.json", "agreements[0]", {"min_lead_time_s": 10**400})
    with pytest.raises(InvalidDocument, match=r"agreements\[0\]\.min_lead_time_s: is too large"):
        reader.duration("min_lead_time_s")
