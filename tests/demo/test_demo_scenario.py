"""The packaged scenario loads, says what the runner should find, and bad files are named."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from deconflict.demo.scenario import (
    Acknowledge,
    AddPlan,
    AdjustPlan,
    FileNotice,
)
from deconflict.demo.scenario_document import load_scenario, parse_scenario
from deconflict.engine import Entry, SeparationMinima, VolumeIndex, describe, smallest_time_shift
from deconflict.errors import InvalidDocument
from deconflict.geo import Circle, Corridor

SCENARIO = Path(__file__).parents[2] / "src/deconflict/demo/scenario/raqqa-2015.json"


def raw() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCENARIO.read_text(encoding="utf-8"))
    return data


def pair_minima(scenario: Any) -> Any:
    def rule(a: str, b: str) -> SeparationMinima | None:
        for agreement in scenario.agreements:
            if {a, b} == set(agreement.parties):
                return agreement.minima
        return None

    return rule


def test_packaged_scenario_loads() -> None:
    """The default scenario is the Raqqa week, with four parties and two agreements."""
    scenario = load_scenario()
    assert scenario.name == "raqqa-2015"
    assert [p.id for p in scenario.parties] == ["RU", "US", "FR", "CAOC"]
    mou = next(a for a in scenario.agreements if a.id == "US-RU-MOU")
    assert mou.relay == "CAOC"
    assert mou.min_lead_time_s == 6 * 3600
    assert mou.disclosure_for("RU", "US") == "full"
    assert mou.disclosure_for("US", "RU") == "none"
    assert {n.id for n in scenario.notices} == {
        "FR-N1",
        "FR-N2",
        "FR-N3",
        "US-N1",
        "RU-N1",
        "RU-N2",
        "RU-N3",
        "RU-N4",
    }
    by_id = {n.id: n for n in scenario.notices}
    assert isinstance(by_id["RU-N1"].volumes[0].footprint, Corridor)
    assert isinstance(by_id["RU-N3"].volumes[0].footprint, Circle)


def test_steps_are_in_time_order_within_the_week() -> None:
    """Every step lies between 13 and 20 November 2015 and time never goes back."""
    scenario = load_scenario()
    times = [step.at_s for step in scenario.steps]
    assert times == sorted(times)
    assert scenario.start_s <= times[0]
    assert times[-1] <= scenario.end_s


def test_load_by_path_equals_packaged() -> None:
    """Loading the file by its path gives the same scenario as the packaged default."""
    # Volume4D compares by identity, so compare what the steps print as.
    assert repr(load_scenario(SCENARIO).steps) == repr(load_scenario().steps)


def test_expected_conflicts_are_what_the_engine_finds() -> None:
    """Under the agreements' minima, the only conflict is US-P1 with the Russian hazard area."""
    scenario = load_scenario()
    entries = [
        Entry(v.id, n.party, v) for n in (*scenario.notices, *scenario.plans) for v in n.volumes
    ]
    widest = SeparationMinima(9260, 610, 600)
    pairs = VolumeIndex(entries).all_pairs(widest, pair_minima(scenario))
    found = {frozenset((a.key, b.key)) for a, b in pairs}
    assert found == {frozenset(c.volumes) for c in scenario.expect.conflicts}
    expected = scenario.expect.conflicts[0]
    volumes = {v.id: v for n in (*scenario.notices, *scenario.plans) for v in n.volumes}
    detail = describe(*(volumes[key] for key in expected.volumes))
    assert detail.start_s == expected.starts_s
    assert expected.starts_s - expected.detected_at_s == expected.lead_time_s


def test_expected_time_shift_clears_every_notice() -> None:
    """The engine's smallest time shift for US-P1 is the expected 2 h 10 min, and clears it
    also of the late notice RU-N4 filed afterwards."""
    scenario = load_scenario()
    adjust = scenario.expect.adjustments[0]
    plan = next(p for p in scenario.plans if p.id == adjust.plan)
    index = VolumeIndex([Entry(v.id, n.party, v) for n in scenario.notices for v in n.volumes])
    widest = SeparationMinima(9260, 610, 600)
    shift = smallest_time_shift(
        index, plan.volumes[0], "US", widest, pair_minima=pair_minima(scenario)
    )
    assert shift is not None
    assert shift.delta == adjust.delta
    assert index.conflicts_with(shift.volume, "US", widest, pair_minima(scenario)) == []
    assert any(isinstance(s, AdjustPlan) and s.plan == adjust.plan for s in scenario.steps)


def test_expected_late_notice_and_escalation_follow_from_the_steps() -> None:
    """RU-N4 is filed 5 h 30 min before it starts (6 h needed); RU-N2 is never acknowledged."""
    scenario = load_scenario()
    filed = {s.notice.id: s for s in scenario.steps if isinstance(s, FileNotice)}
    mou = scenario.agreements[0]
    late = {
        notice_id
        for notice_id, step in filed.items()
        if min(v.window.start_s for v in step.notice.volumes) - step.at_s
        < next(a for a in scenario.agreements if a.id == step.notice.agreement).min_lead_time_s
    }
    assert late == {n.notice for n in scenario.expect.late_notices}
    expected_late = scenario.expect.late_notices[0]
    assert expected_late.required_s == mou.min_lead_time_s
    acknowledged = {s.notice for s in scenario.steps if isinstance(s, Acknowledge)}
    assert set(filed) - acknowledged == {e.notice for e in scenario.expect.escalations}
    escalation = scenario.expect.escalations[0]
    assert escalation.deadline_s == filed[escalation.notice].at_s + mou.ack_deadline_s
    planned = {s.plan.id for s in scenario.steps if isinstance(s, AddPlan)}
    assert set(scenario.expect.unchanged_plans) == planned - {"US-P1"}


def step_index(data: dict[str, Any], action: str, key: str | None = None) -> int:
    for i, step in enumerate(data["steps"]):
        if step["action"] == action and (key is None or key in step):
            return i
    raise LookupError(action)


def broken(edit: Any) -> dict[str, Any]:
    data = copy.deepcopy(raw())
    edit(data)
    return data


def _notice(data: dict[str, Any]) -> dict[str, Any]:
    return data["steps"][step_index(data, "file-notice")]["notice"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        (lambda d: d.pop("clock"), "clock", "is missing"),
        (lambda d: d.update(schema="other/2"), "schema", "must be 'deconflict.scenario/1'"),
        (lambda d: d["clock"].update(start="13 Nov 2015"), "clock.start", "RFC 3339"),
        (lambda d: d["clock"].update(end="2015-11-12T00:00:00Z"), "clock.end", "after start"),
        (lambda d: d["steps"][0].update(action="launch"), "steps[0].action", "got 'launch'"),
        (lambda d: d["steps"][7].update(at="2015-11-13T00:00:00Z"), "steps[7].at", "back in time"),
        (lambda d: d["steps"][0].update(at="2015-12-01T00:00:00Z"), "steps[0].at", "outside"),
        (
            lambda d: _notice(d)["volumes"][0]["footprint"].update(half_width_m=-5),
            "steps[7].notice.volumes[0]",
            "half_width_m",
        ),
        (
            lambda d: _notice(d)["volumes"][0].update(lower_m="low"),
            "steps[7].notice.volumes[0].lower_m",
            "number",
        ),
        (
            lambda d: _notice(d)["volumes"][0].update(lower_m=99999),
            "steps[7].notice.volumes[0]",
            "below upper_m",
        ),
        (
            lambda d: _notice(d)["volumes"][0]["footprint"].update(type="sphere"),
            "steps[7].notice.volumes[0].footprint.type",
            "one of",
        ),
        (
            lambda d: _notice(d).update(category="target"),
            "steps[7].notice.category",
            "must be 'air-activity'",
        ),
        (lambda d: _notice(d).update(volumes=[]), "steps[7].notice.volumes", "at least 1 item"),
        (lambda d: _notice(d).update(agreement="NONE"), "steps[7].notice.agreement", "unknown"),
        (lambda d: d["steps"][7].update(by="XX"), "steps[7].by", "unknown party"),
        (lambda d: d["steps"][8].update(notice="FR-N9"), "steps[8].notice", "unknown notice"),
        (lambda d: d["steps"][8].update(by="FR"), "steps[8].by", "own notice"),
        (
            lambda d: d["steps"][4]["agreement"]["disclosure"][0].update(level="most"),
            "steps[4].agreement.disclosure[0].level",
            "one of",
        ),
        (
            lambda d: d["steps"][4]["agreement"].update(relay="QATAR"),
            "steps[4].agreement.relay",
            "unknown party",
        ),
        (
            lambda d: d["steps"][4]["agreement"]["separation"].update(time_s=-1),
            "steps[4].agreement.separation.time_s",
            ">= 0",
        ),
        (lambda d: d["steps"][1]["party"].update(id="RU"), "steps[1].party.id", "twice"),
    ],
)
def test_bad_scenarios_name_the_field(edit: Any, field: str, words: str) -> None:
    """Each malformed scenario raises InvalidDocument naming the file, the field and the fault."""
    with pytest.raises(InvalidDocument) as caught:
        parse_scenario(broken(edit), "raqqa-2015.json")
    message = str(caught.value)
    assert message.startswith(f"raqqa-2015.json: {field}")
    assert words in message


def _volume(data: dict[str, Any]) -> dict[str, Any]:
    return _notice(data)["volumes"][0]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (  # a wrong type, deep down
            lambda d: _volume(d).update(lower_m="7000"),
            "steps[7].notice.volumes[0].lower_m: must be a number",
        ),
        (  # a wrong type behind the footprint's type (a tag pydantic puts in the location)
            lambda d: _volume(d)["footprint"].update(half_width_m=True),
            "steps[7].notice.volumes[0].footprint.half_width_m: must be a number",
        ),
        (
            lambda d: _volume(d).update(upper_m=float("nan")),  # json.loads reads NaN
            "steps[7].notice.volumes[0].upper_m: must be a finite number",
        ),
        (lambda d: d["steps"].__setitem__(3, "RU"), "steps[3]: must be an object"),
        (lambda d: d.update(notes="none"), "notes: must be a list"),
        (lambda d: _volume(d).pop("end"), "steps[7].notice.volumes[0].end: is missing"),
        (lambda d: d["steps"][3].pop("action"), "steps[3].action: is missing"),
        (  # an unknown field is refused, not ignored: a misspelling cannot pass unnoticed
            lambda d: _volume(d).update(lower_mm=7000),
            "steps[7].notice.volumes[0].lower_mm: unknown field",
        ),
        (lambda d: d["steps"][7].update(note="x"), "steps[7].note: unknown field"),
        (lambda d: d.update(author="x"), "author: unknown field"),
        (
            lambda d: _volume(d).update(start="tomorrow"),
            "steps[7].notice.volumes[0].start: time 'tomorrow' is not RFC 3339 "
            "(e.g. 2015-11-17T05:00:00Z)",
        ),
        (
            lambda d: d["steps"][0].update(at=1447372800),
            "steps[0].at: time must be an RFC 3339 string, got 1447372800",
        ),
        (
            lambda d: d["expect"]["escalations"][0].update(deadline="2015-11-16T20:30:00"),
            "expect.escalations[0].deadline: time '2015-11-16T20:30:00' has no UTC offset (add Z)",
        ),
        (
            lambda d: d["steps"][3]["party"].update(name=" "),
            "steps[3].party.name: must not be empty",
        ),
        (
            lambda d: d["steps"][29].update(plan="US-P2"),
            "steps[29]: names the notice or the plan to cancel: give exactly one",
        ),
        (
            lambda d: d["steps"][29].update(by="US"),
            "steps[29].notice: notice 'FR-N3' belongs to FR, not US",
        ),
    ],
)
def test_faults_are_named_by_file_and_field_path(edit: Any, message: str) -> None:
    """A wrong type, a missing or unknown field and a bad time each read
    ``<file>: <path.to[0].field>: <fault>``, in JSON's words, with no level for the step's
    action or the footprint's type."""
    with pytest.raises(InvalidDocument) as caught:
        parse_scenario(broken(edit), "raqqa-2015.json")
    assert str(caught.value) == f"raqqa-2015.json: {message}"


def test_a_wrong_action_is_quoted_short() -> None:
    """An action of a megabyte is named by its field and quoted in a few characters."""
    data = broken(lambda d: d["steps"][3].update(action="x" * 1_000_000))
    with pytest.raises(InvalidDocument) as caught:
        parse_scenario(data, "raqqa-2015.json")
    message = str(caught.value)
    assert message.startswith("raqqa-2015.json: steps[3].action: must be one of 'add-party'")
    assert len(message) < 300


def test_a_document_that_is_not_an_object_is_named_at_its_top() -> None:
    """A list where the scenario's object should be is refused at "(top level)"."""
    with pytest.raises(InvalidDocument, match=r"^s\.json: \(top level\): must be an object$"):
        parse_scenario([], "s.json")


def test_unreadable_and_invalid_json_files(tmp_path: Path) -> None:
    """A missing file or one that is not JSON is an InvalidDocument naming the path."""
    missing = tmp_path / "none.json"
    with pytest.raises(InvalidDocument, match=r"none\.json: cannot be read"):
        load_scenario(missing)
    bad = tmp_path / "bad.json"
    bad.write_text("{\n  'steps': ", encoding="utf-8")
    with pytest.raises(InvalidDocument, match=r"bad\.json: not valid JSON at line 2"):
        load_scenario(bad)


def test_scenario_records_no_targets_or_purposes() -> None:
    """The file carries airspace categories only: no target, purpose or weapon fields."""
    text = SCENARIO.read_text(encoding="utf-8").lower()
    for word in ('"target', '"purpose', '"weapon'):
        assert word not in text
