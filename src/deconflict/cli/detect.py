"""``deconflict detect``: conflicting pairs in a GeoJSON file, as JSON on stdout.

A contract others script against: one object per conflicting pair of volumes of different parties,
``a < b``, sorted by ``(a, b)``; an invalid feature is an error naming its id, exit status 2,
nothing on stdout.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from deconflict.cli.common import fail, geo_limits, read_json

if TYPE_CHECKING:
    from deconflict.engine import SeparationMinima

__all__ = ["detect", "detect_pairs"]


def detect_pairs(document: object, minima: SeparationMinima) -> list[dict[str, Any]]:
    """The ``detect`` output for a decoded FeatureCollection."""
    from deconflict.engine import Entry, VolumeIndex, describe
    from deconflict.geo.geojson import parse_feature_collection
    from deconflict.geo.units import epoch_to_rfc3339

    volumes = parse_feature_collection(document, geo_limits())
    index = VolumeIndex(Entry(v.volume.id, v.party, v.volume) for v in volumes)
    out = []
    # One process a core: the sweep shares its chunks out past two chunks' worth of volumes.
    for first, second in index.all_pairs(minima, processes=os.cpu_count() or 1):
        a, b = sorted((first, second), key=lambda e: e.key)
        detail = describe(a.volume, b.volume)
        row: dict[str, Any] = {
            "a": a.key,
            "b": b.key,
            "party_a": a.party,
            "party_b": b.party,
            "horizontal_m": round(detail.horizontal_m, 3),
            "vertical_gap_m": round(detail.vertical_gap_m, 3),
            "time_gap_s": round(detail.time_gap_s, 3),
        }
        if detail.overlaps_in_time:
            row["overlap_start"] = epoch_to_rfc3339(detail.start_s)
            row["overlap_end"] = epoch_to_rfc3339(detail.end_s)
        out.append(row)
    out.sort(key=lambda r: (r["a"], r["b"]))
    return out


def _minimum(value: float, name: str) -> float:
    if not math.isfinite(value) or value < 0:
        fail(f"--{name} must be a finite number >= 0, got {value}", code=2)
    return value


def detect(
    file: Annotated[Path, typer.Argument(help="GeoJSON FeatureCollection, one volume a feature.")],
    horizontal_m: Annotated[float, typer.Option(help="Horizontal minimum, metres.")] = 0.0,
    vertical_m: Annotated[float, typer.Option(help="Vertical minimum, metres.")] = 0.0,
    time_s: Annotated[float, typer.Option(help="Time minimum, seconds.")] = 0.0,
) -> None:
    """Print every conflicting pair of volumes of different parties as a JSON array."""
    # Imported here, not above: numpy, shapely and the engine are not needed for --help.
    from deconflict.engine import SeparationMinima, check_minima_accepted

    minima = SeparationMinima(
        _minimum(horizontal_m, "horizontal-m"),
        _minimum(vertical_m, "vertical-m"),
        _minimum(time_s, "time-s"),
    )
    pairs = detect_pairs(read_json(file), check_minima_accepted(minima))
    typer.echo(json.dumps(pairs, indent=1))
