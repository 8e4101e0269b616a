"""The agreement document is read in one place (``model.agreement_document``) for the CLI's
files, the API, the store and the demo's scenario, and a bad one names the field that is wrong."""

from __future__ import annotations

from typing import Any

import pytest

from deconflict.errors import InvalidDocument
from deconflict.model import Disclosure
from deconflict.model.agreement_document import agreement_document, agreement_from_document

MOU: dict[str, Any] = {
    "id": "MOU",
    "parties": ["US", "RU"],
    "relay": "CAOC",
    "min_lead_time_s": 21600,
    "ack_deadline_s": 1800,
    "separation": {"horizontal_m": 9260, "vertical_m": 610, "time_s": 600},
    "disclosure": [
        {"from": "RU", "to": "US", "level": "full"},
        {"from": "US", "to": "RU", "level": "none"},
    ],
    "default_disclosure": "conflicts-only",
    "unlock": {"max_area_m2": 5e10, "max_duration_s": 172800, "plans": False},
    "resolution": {"time_s": 900, "vertical_m": 150, "horizontal_m": 1000},
}


def test_a_document_reads_and_writes_back_the_same() -> None:
    agreement = agreement_from_document(MOU)
    assert agreement.disclosure_for("RU", "US") is Disclosure.FULL
    assert agreement.minima.horizontal_m == 9260
    assert agreement_document(agreement) == {**MOU, "disclosure": MOU["disclosure"]}


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        (lambda d: d["disclosure"][1].update(level="most"), "disclosure[1].level", "one of"),
        (lambda d: d["disclosure"][0].pop("to"), "disclosure[0].to", "is required"),
        (lambda d: d["separation"].update(time_s=-1), "separation.time_s", ">= 0"),
        (lambda d: d["separation"].update(time_s="600"), "separation.time_s", "a number"),
        (lambda d: d["separation"].update(up_m=1), "separation.up_m", "unknown field"),
        (lambda d: d["unlock"].update(plans="yes"), "unlock.plans", "true or false"),
        (lambda d: d["resolution"].update(time_s=10**400), "resolution.time_s", "too large"),
        (lambda d: d["resolution"].update(time_s=0), "resolution", "time_s"),
        (lambda d: d["unlock"].update(max_area_m2=0), "unlock", "max_area_m2"),
        (lambda d: d.update(ack_deadline_s=True), "ack_deadline_s", "a number"),
        (lambda d: d.update(parties="US,RU"), "parties", "a list of party ids"),
        (lambda d: d.update(relay=7), "relay", "a party id or null"),
        (lambda d: d.update(default_disclosure="some"), "default_disclosure", "one of"),
        (lambda d: d.update(target="x"), "target", "unknown field"),
        (lambda d: d.pop("id"), "id", "is required"),
    ],
)
def test_a_bad_document_names_the_field(edit: Any, field: str, words: str) -> None:
    document = {
        **MOU,
        "disclosure": [dict(rule) for rule in MOU["disclosure"]],
        "separation": dict(MOU["separation"]),
        "unlock": dict(MOU["unlock"]),
        "resolution": dict(MOU["resolution"]),
    }
    edit(document)
    with pytest.raises(InvalidDocument) as caught:
        agreement_from_document(document, "mou.json")
    assert str(caught.value).startswith(f"mou.json: {field}: ")
    assert words in str(caught.value)
    pointer = "/" + field.replace("[", ".").replace("]", "").replace(".", "/")
    assert caught.value.field == pointer  # what the API answers as the problem's field


def test_where_in_a_larger_document_the_agreement_is() -> None:
    """The demo's scenario names the step the agreement is in."""
    with pytest.raises(InvalidDocument, match=r"^raqqa\.json: steps\[4\]\.agreement\.relay: "):
        agreement_from_document({**MOU, "relay": 1}, "raqqa.json", ("steps", 4, "agreement"))
    with pytest.raises(InvalidDocument) as caught:
        agreement_from_document({**MOU, "relay": 1}, "raqqa.json", ("steps", 4, "agreement"))
    assert caught.value.field == "/steps/4/agreement/relay"


@pytest.mark.parametrize(
    ("edit", "said", "pointer"),
    [
        (lambda d: d.update({"a/b": 1}), "a/b", "/a~1b"),
        (lambda d: d.update({"~1": 1}), "~1", "/~01"),
        (lambda d: d["separation"].update({"x.y/z": 1}), "separation.x.y/z", "/separation/x.y~1z"),
    ],
    ids=["slash", "tilde", "dot-and-slash"],
)
def test_an_unknown_member_is_pointed_at_escaped(edit: Any, said: str, pointer: str) -> None:
    """RFC 6901: a member's name holding ``/`` or ``~`` is escaped in the pointer, so that the
    pointer names that one member (``a/b`` was ``/a/b``, the member ``b`` of ``a``; a ``.`` in a
    name split it too)."""
    document = {**MOU, "separation": dict(MOU["separation"])}
    edit(document)
    with pytest.raises(InvalidDocument) as caught:
        agreement_from_document(document, "mou.json")
    assert str(caught.value).startswith(f"mou.json: {said}: unknown field")
    assert caught.value.field == pointer
