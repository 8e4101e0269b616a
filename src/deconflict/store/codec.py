"""Records to and from the JSON text the store keeps in its columns.

A volume is kept as its footprint's GeoJSON geometry (plus ``radius_m`` for a circle and
``half_width_m`` for a corridor), its altitude band and its time window; reading it back builds the
footprint again, so everything read is validated as on intake. An agreement is kept whole as one
JSON document (the store never queries inside it).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from deconflict.engine import SeparationMinima
from deconflict.errors import InvalidDocument, InvalidInput
from deconflict.geo import Circle, Corridor, Footprint, Polygon, Volume4D
from deconflict.model import Agreement, Disclosure

__all__ = [
    "agreement_from_json",
    "agreement_to_json",
    "footprint_from_dict",
    "volumes_from_json",
    "volumes_to_json",
]


def volume_to_dict(volume: Volume4D) -> dict[str, Any]:
    return {
        "id": volume.id,
        "footprint": volume.footprint.to_geojson(),
        "lower_m": volume.altitude.lower_m,
        "upper_m": volume.altitude.upper_m,
        "start_s": volume.window.start_s,
        "end_s": volume.window.end_s,
    }


def footprint_from_dict(data: dict[str, Any]) -> Footprint:
    """Build the footprint kept as GeoJSON geometry plus radius or half-width."""
    geometry: dict[str, Any] = data.get("geometry") or {}
    kind = geometry.get("type")
    coordinates: Any = geometry.get("coordinates")
    if kind == "Point":
        return Circle(coordinates, data["radius_m"])
    if kind == "LineString":
        return Corridor(coordinates, data["half_width_m"])
    if kind == "Polygon":
        return Polygon(coordinates[0])
    raise InvalidDocument(f"unknown footprint geometry type {kind!r}")


def volume_from_dict(data: dict[str, Any]) -> Volume4D:
    return Volume4D.build(
        data["id"],
        lambda: footprint_from_dict(data["footprint"]),
        data["lower_m"],
        data["upper_m"],
        data["start_s"],
        data["end_s"],
    )


def volumes_to_json(volumes: Sequence[Volume4D]) -> str:
    return json.dumps([volume_to_dict(v) for v in volumes], separators=(",", ":"))


def volumes_from_json(text: str) -> tuple[Volume4D, ...]:
    """The volumes kept as ``text``. Building a footprint is most of the cost of reading a
    record (its geodesic outline), and the hub reads the same versions again and again (the
    detector, each party's event stream, listings), so the volumes of the last texts read are
    kept: equal text, equal (immutable) volumes."""
    return _volumes_from_json(text)


@functools.lru_cache(maxsize=2048)
def _volumes_from_json(text: str) -> tuple[Volume4D, ...]:
    try:
        return tuple(volume_from_dict(item) for item in json.loads(text))
    except InvalidDocument:
        raise
    except InvalidInput as error:
        raise InvalidDocument(f"stored volumes are invalid: {error}") from None
        raise
    except (ValueError, KeyError, TypeError, IndexError) as error:
        raise InvalidDocument(f"stored volumes are malformed: {error!r}") from None


def agreement_to_json(agreement: Agreement) -> str:
    minima = agreement.minima
    return json.dumps(
        {
            "id": agreement.id,
            "parties": list(agreement.parties),
            "min_lead_time_s": agreement.min_lead_time_s,
            "minima": {
                "horizontal_m": minima.horizontal_m,
                "vertical_m": minima.vertical_m,
                "time_s": minima.time_s,
            },
            "relay": agreement.relay,
            "disclosure": [[a, b, str(level)] for (a, b), level in agreement.disclosure.items()],
            "default_disclosure": str(agreement.default_disclosure),
            "ack_deadline_s": agreement.ack_deadline_s,
        },
        separators=(",", ":"),
    )


def agreement_from_json(text: str) -> Agreement:
    try:
        data = json.loads(text)
        return Agreement(
            id=data["id"],
            parties=tuple(data["parties"]),
            min_lead_time_s=data["min_lead_time_s"],
            minima=SeparationMinima(**data["minima"]),
            relay=data["relay"],
            disclosure={(a, b): Disclosure(level) for a, b, level in data["disclosure"]},
            default_disclosure=Disclosure(data["default_disclosure"]),
            ack_deadline_s=data["ack_deadline_s"],
        )
    except InvalidDocument:
        raise
    except (ValueError, KeyError, TypeError) as error:
        raise InvalidDocument(f"stored agreement is malformed: {error!r}") from None
