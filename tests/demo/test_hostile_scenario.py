"""A scenario file is intake too (security.md §4.1): a number no float can hold is one clear
error naming its field, not a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deconflict.demo.scenario_document import load_scenario, parse_scenario
from deconflict.errors import InvalidDocument

SCENARIO = Path(__file__).parents[2] / "src/deconflict/demo/scenario/raqqa-2015.json"


def test_a_duration_of_hundreds_of_digits_is_refused_naming_it():
    """security.md §4.1: a 400-digit lead time in a scenario's agreement names the field."""
    data = json.loads(SCENARIO.read_text(encoding="utf-8"))
    data["steps"][4]["agreement"]["min_lead_time_s"] = 10**400
    with pytest.raises(InvalidDocument, match=r"steps\[4\]\.agreement\.min_lead_time_s: is too"):
        parse_scenario(data, "scenario.json")


def test_an_altitude_of_hundreds_of_digits_is_refused_naming_it():
    """A 400-digit altitude is too large for a number, said at the volume's field."""
    data = json.loads(SCENARIO.read_text(encoding="utf-8"))
    data["steps"][7]["notice"]["volumes"][0]["lower_m"] = 10**400
    with pytest.raises(
        InvalidDocument,
        match=r"^scenario\.json: steps\[7\]\.notice\.volumes\[0\]\.lower_m: is too large",
    ):
        parse_scenario(data, "scenario.json")


def test_a_number_of_thousands_of_digits_is_refused_naming_the_file(tmp_path: Path) -> None:
    """An integer longer than Python reads (json.loads raises a bare ValueError) is named."""
    file = tmp_path / "long.json"
    file.write_text('{"schema": ' + "9" * 5000 + "}", encoding="utf-8")
    with pytest.raises(InvalidDocument, match=r"long\.json: a number has more than \d+ digits"):
        load_scenario(file)


def test_a_document_nested_thousands_deep_is_refused_naming_the_file(tmp_path: Path) -> None:
    """Python's JSON reader recurses: lists nested past its limit are a clear error too."""
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InvalidDocument, match=r"deep\.json: nested too deep to read"):
        load_scenario(deep)
