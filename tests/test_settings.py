"""Numeric settings are read in one way everywhere, and a bad one is named by its variable."""

from __future__ import annotations

import pytest

from deconflict.api.server import HttpLimits
from deconflict.errors import InvalidInput
from deconflict.settings import SETTINGS, number_setting, whole_setting


def test_a_number_setting_reads_its_variable_or_its_default() -> None:
    assert number_setting("http-body-timeout-s", {"DECONFLICT_HTTP_BODY_TIMEOUT_S": "2.5"}) == 2.5
    assert number_setting("http-body-timeout-s", {}) == float(
        SETTINGS["http-body-timeout-s"].default
    )


@pytest.mark.parametrize(
    ("raw", "problem"),
    [("lots", "is not a whole number"), ("1.5", "is not a whole number"), ("-1", "negative")],
)
def test_a_bad_whole_setting_is_named_by_its_variable(raw: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        whole_setting("workers", {"DECONFLICT_WORKERS": raw})
    assert str(refused.value).startswith(f"DECONFLICT_WORKERS={raw!r}")
    assert problem in str(refused.value)


def test_the_http_limits_name_a_bad_variable() -> None:
    """The server's limits read their settings the same way (it used to say "the setting")."""
    with pytest.raises(InvalidInput, match=r"^DECONFLICT_HTTP_MAX_CONNECTIONS='many' is not a"):
        HttpLimits.from_settings({"DECONFLICT_HTTP_MAX_CONNECTIONS": "many"})
    with pytest.raises(InvalidInput, match="max_connections must be at least 1"):
        HttpLimits.from_settings({"DECONFLICT_HTTP_MAX_CONNECTIONS": "0"})
