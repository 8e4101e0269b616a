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
from typing import Any

from deconflict.engine import SeparationMinima
from deconflict.errors import InvalidDocument, InvalidInput
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


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidDocument(f"{where} must be a JSON object")
    return value


def _terms(doc: Mapping[str, Any], name: str, kind: type[Any], where: str) -> Any:
    """The sub-object ``name`` built as ``kind`` (its defaults where it is left out)."""
    value = doc.get(name)
    if value is None:
        return kind()
    try:
        return kind(**_object(value, f"{where}: {name}"))
    except TypeError as error:
        raise InvalidDocument(f"{where}: {name}: {error}") from None


def agreement_from_document(document: object, where: str = "the agreement") -> Agreement:
    """The agreement ``document`` describes; InvalidDocument or InvalidInput naming what is
    wrong (``where`` says where the document came from)."""
    doc = _object(document, where)
    unknown = sorted(set(doc) - _FIELDS)
    if unknown:
        raise InvalidDocument(f"{where}: unknown field {unknown[0]!r}")
    for name in ("id", "parties"):
        if name not in doc:
            raise InvalidDocument(f"{where}: the agreement needs the field {name!r}")
    rules = doc.get("disclosure") or []
    if not isinstance(rules, list):
        raise InvalidDocument(f"{where}: disclosure must be a list")
    try:
        disclosure = {}
        for rule in rules:
            rule = _object(rule, f"{where}: a disclosure rule")
            disclosure[(rule["from"], rule["to"])] = Disclosure(rule["level"])
        parties = doc["parties"]
        if not isinstance(parties, list):
            raise InvalidDocument(f"{where}: parties must be a list of party ids")
        return Agreement(
            id=doc["id"],
            parties=tuple(parties),
            min_lead_time_s=doc.get("min_lead_time_s", 0.0),
            minima=_terms(doc, "separation", SeparationMinima, where),
            relay=doc.get("relay"),
            disclosure=disclosure,
            default_disclosure=Disclosure(doc.get("default_disclosure", "conflicts-only")),
            ack_deadline_s=doc.get("ack_deadline_s", 3600.0),
            unlock=_terms(doc, "unlock", Unlock, where),
            resolution=_terms(doc, "resolution", Resolution, where),
        )
    except KeyError as missing:
        raise InvalidDocument(f"{where}: a disclosure rule needs the field {missing}") from None
    except InvalidInput:
        raise
    except (TypeError, ValueError, OverflowError) as error:  # Overflow: a 400-digit number
        raise InvalidDocument(f"{where}: {error}") from None


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
