"""The agreement document: an agreement as JSON, the one format the CLI's files, the API and the
Python client read and write (the README's "Agreements" shows it)::

    {"id": "MOU", "parties": ["US", "RU"], "relay": "CAOC",
     "min_lead_time_s": 21600, "ack_deadline_s": 1800,
     "separation": {"horizontal_m": 9260, "vertical_m": 610, "time_s": 600},
     "disclosure": [{"from": "RU", "to": "US", "level": "full"}],
     "default_disclosure": "conflicts-only",
     "unlock": {"max_area_m2": 5e10, "max_duration_s": 172800, "plans": false},
     "resolution": {"time_s": 900, "vertical_m": 150, "horizontal_m": 1000}}

Everything but ``id`` and ``parties`` may be left out, for the defaults of
:class:`~deconflict.model.Agreement`. Read here once, so that a term added to agreements is added
in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, NoReturn

from deconflict.engine import SeparationMinima
from deconflict.errors import InvalidDocument, InvalidInput
from deconflict.json_pointer import json_pointer
from deconflict.model.parties import Agreement, Disclosure, Resolution, Unlock

__all__ = ["agreement_document", "agreement_from_document"]

_FIELDS = frozenset(
    {
        "id",
        "title",
        "parties",
        "relay",
        "min_lead_time_s",
        "ack_deadline_s",
        "separation",
        "disclosure",
        "default_disclosure",
        "unlock",
        "resolution",
    }
)


#: Where in a document a member is: its keys and list indexes from the top.
_Path = tuple[str | int, ...]


def _fail(where: str, path: _Path, message: str) -> NoReturn:
    """InvalidDocument saying where (``the agreement: disclosure[1].level: ...``), with the
    member at fault as a JSON pointer in its ``field`` (``/disclosure/1/level``; a member's
    name escaped, RFC 6901, so that an unknown field ``a/b`` is ``/a~1b``)."""
    text = _text(path)
    error = InvalidDocument(f"{where}: {text}: {message}" if text else f"{where}: {message}")
    error.field = json_pointer(*path) or "/"
    raise error


def _text(path: _Path) -> str:
    """``path`` as a message says it: ``disclosure[1].level``."""
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
        else:
            text += f".{step}" if text else step
    return text


def _join(path: _Path, name: str | int) -> _Path:
    return (*path, name)


def _object(value: object, where: str, path: _Path) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        _fail(where, path, "must be a JSON object")
    return value


def _number(value: object, where: str, path: _Path) -> float:
    """A JSON number (not true or false), at least 0, that a float holds."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail(where, path, f"must be a number, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:  # an integer of hundreds of digits (JSON allows them)
        _fail(where, path, "is too large")
    if not number >= 0:  # NaN too
        _fail(where, path, f"must be >= 0, got {value!r}")
    return number


def _level(value: object, where: str, path: _Path) -> Disclosure:
    levels = {d.value: d for d in Disclosure}
    if not isinstance(value, str) or value not in levels:
        _fail(where, path, f"must be one of {', '.join(levels)}")
    return levels[value]


def _terms(doc: Mapping[str, Any], name: str, kind: type[Any], where: str, path: _Path) -> Any:
    """The sub-object ``name`` built as ``kind`` (its defaults where it is left out), each of
    its numbers checked and named."""
    value = doc.get(name)
    if value is None:
        return kind()
    at = _join(path, name)
    terms = _object(value, where, at)
    known = {f.name: f for f in fields(kind)}
    checked: dict[str, Any] = {}
    for key, term in terms.items():
        if key not in known:
            _fail(where, _join(at, key), f"unknown field (known: {', '.join(known)})")
        if known[key].type in (bool, "bool"):
            if not isinstance(term, bool):
                _fail(where, _join(at, key), "must be true or false")
            checked[key] = term
        else:
            checked[key] = _number(term, where, _join(at, key))
    try:
        return kind(**checked)
    except InvalidInput as error:  # a term's own bound (a resolution above 0): named here too
        _fail(where, at, str(error))


def agreement_from_document(
    document: object, where: str = "the agreement", path: _Path = ()
) -> Agreement:
    """The agreement ``document`` describes; InvalidDocument naming the field that is wrong
    (``mou.json: disclosure[0].level: must be one of ...``), or InvalidInput for terms that do
    not hold together. ``where`` says where the document came from, ``path`` where in it the
    agreement is, its keys and indexes (a scenario's ``("steps", 4, "agreement")``)."""
    doc = _object(document, where, path)
    for name in doc:
        if name not in _FIELDS:
            _fail(where, _join(path, name), "unknown field")
    for name in ("id", "parties"):
        if name not in doc:
            _fail(where, _join(path, name), "is required")
    if not isinstance(doc["id"], str):
        _fail(where, _join(path, "id"), "must be a string")
    parties = doc["parties"]
    if not isinstance(parties, list) or not all(isinstance(p, str) for p in parties):
        _fail(where, _join(path, "parties"), "must be a list of party ids")
    relay = doc.get("relay")
    if relay is not None and not isinstance(relay, str):
        _fail(where, _join(path, "relay"), "must be a party id or null")
    rules = doc.get("disclosure") or []
    if not isinstance(rules, list):
        _fail(where, _join(path, "disclosure"), "must be a list")
    disclosure = {}
    for i, rule in enumerate(rules):
        at = _join(_join(path, "disclosure"), i)
        rule = _object(rule, where, at)
        for name in ("from", "to", "level"):
            if name not in rule:
                _fail(where, _join(at, name), "is required")
        for name in ("from", "to"):
            if not isinstance(rule[name], str):
                _fail(where, _join(at, name), "must be a party id")
        disclosure[(rule["from"], rule["to"])] = _level(rule["level"], where, _join(at, "level"))
    default = doc.get("default_disclosure", "conflicts-only")
    return Agreement(
        id=doc["id"],
        parties=tuple(parties),
        min_lead_time_s=_number(
            doc.get("min_lead_time_s", 0.0), where, _join(path, "min_lead_time_s")
        ),
        minima=_terms(doc, "separation", SeparationMinima, where, path),
        relay=relay,
        disclosure=disclosure,
        default_disclosure=_level(default, where, _join(path, "default_disclosure")),
        ack_deadline_s=_number(
            doc.get("ack_deadline_s", 3600.0), where, _join(path, "ack_deadline_s")
        ),
        unlock=_terms(doc, "unlock", Unlock, where, path),
        resolution=_terms(doc, "resolution", Resolution, where, path),
    )


def agreement_document(agreement: Agreement) -> dict[str, Any]:
    """``agreement`` as its document (every term written out)."""
    minima, unlock, resolution = agreement.minima, agreement.unlock, agreement.resolution
    return {
        "id": agreement.id,
        "parties": list(agreement.parties),
        "relay": agreement.relay,
        "min_lead_time_s": agreement.min_lead_time_s,
        "ack_deadline_s": agreement.ack_deadline_s,
        "separation": {
            "horizontal_m": minima.horizontal_m,
            "vertical_m": minima.vertical_m,
            "time_s": minima.time_s,
        },
        "disclosure": [
            {"from": a, "to": b, "level": str(level)}
            for (a, b), level in agreement.disclosure.items()
        ],
        "default_disclosure": str(agreement.default_disclosure),
        "unlock": {
            "max_area_m2": unlock.max_area_m2,
            "max_duration_s": unlock.max_duration_s,
            "plans": unlock.plans,
        },
        "resolution": {
            "time_s": resolution.time_s,
            "vertical_m": resolution.vertical_m,
            "horizontal_m": resolution.horizontal_m,
        },
    }
