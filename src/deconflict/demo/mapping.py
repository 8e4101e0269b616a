"""The demo map: country outlines decoded from world-atlas TopoJSON, and volumes drawn over them.

Owns two things (the world-atlas file itself is found by :mod:`deconflict.web.assets`): a small
TopoJSON decoder (quantized, delta-encoded arcs; negative arc indexes for reversed arcs), and
rendering a PNG with matplotlib through ``Figure`` and
``FigureCanvasAgg`` directly, so nothing touches pyplot's global state or the backend setting.

Longitudes are unwrapped ring by ring (each point within 180 degrees of the one before) and every
ring is then moved by whole turns to sit nearest the map's centre, so outlines that cross the
antimeridian (Russia, Fiji, a footprint over the Pacific) are drawn whole and in the right place;
a ring that goes once around a pole (Antarctica) is closed along that pole's latitude.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.patches import Polygon as PolygonPatch

from deconflict import owner_only
from deconflict.errors import InvalidDocument
from deconflict.web.assets import WebAssetsMissing
from deconflict.web.outline import CONFLICT_COLOUR, party_colours, unwrap_ring
from deconflict.web.outline import meeting as conflict_geometry

if TYPE_CHECKING:
    from deconflict.demo.report import ReportConflict, ReportVolume

__all__ = [
    "Country",
    "conflict_geometry",
    "decode_topology",
    "party_colours",
    "read_countries",
    "render_map",
    "unwrap_ring",
]

LonLat = tuple[float, float]
Ring = tuple[LonLat, ...]

_CONFLICT = CONFLICT_COLOUR


@dataclass(frozen=True, slots=True)
class Country:
    """One country: its id and name in the atlas, and its polygons as rings of (lon, lat).

    Each polygon is a tuple of rings, the outer ring first, then its holes.
    """

    id: str
    name: str
    polygons: tuple[tuple[Ring, ...], ...]


def _decode_arcs(topology: Mapping[str, Any]) -> list[list[LonLat]]:
    """Absolute (lon, lat) positions of every arc, undoing quantization and delta encoding."""
    arcs = topology.get("arcs")
    if not isinstance(arcs, list):
        raise InvalidDocument("topology: arcs must be a list")
    transform = topology.get("transform")
    if transform is None:
        return [[(float(p[0]), float(p[1])) for p in arc] for arc in arcs]
    try:
        (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
    except (KeyError, TypeError, ValueError):
        raise InvalidDocument("topology: transform needs scale and translate pairs") from None
    decoded = []
    for arc in arcs:
        x = y = 0
        points = []
        for position in arc:
            x += position[0]
            y += position[1]
            points.append((x * sx + tx, y * sy + ty))
        decoded.append(points)
    return decoded


def _ring(indexes: Sequence[int], arcs: list[list[LonLat]]) -> Ring:
    """The ring made of arcs joined end to start; index ``~i`` (negative) is arc ``i`` reversed."""
    points: list[LonLat] = []
    for index in indexes:
        arc = arcs[~index][::-1] if index < 0 else arcs[index]
        # Consecutive arcs share their joining point: keep it once.
        points.extend(arc[1:] if points else arc)
    return tuple(points)


def _polygons(geometry: Mapping[str, Any], arcs: list[list[LonLat]]) -> list[tuple[Ring, ...]]:
    kind = geometry.get("type")
    if kind == "Polygon":
        return [tuple(_ring(ring, arcs) for ring in geometry["arcs"])]
    if kind == "MultiPolygon":
        return [tuple(_ring(ring, arcs) for ring in polygon) for polygon in geometry["arcs"]]
    if kind == "GeometryCollection":
        return [p for g in geometry.get("geometries", []) for p in _polygons(g, arcs)]
    return []  # points, lines and null geometries have no area to draw


def decode_topology(topology: Mapping[str, Any], object_name: str = "countries") -> list[Country]:
    """The polygons of every geometry in ``topology.objects[object_name]``, as countries."""
    if topology.get("type") != "Topology":
        raise InvalidDocument("topology: type must be 'Topology'")
    try:
        collection = topology["objects"][object_name]
    except (KeyError, TypeError):
        raise InvalidDocument(f"topology: no object named {object_name!r}") from None
    arcs = _decode_arcs(topology)
    members = collection.get("geometries", [collection])
    try:
        return [
            Country(
                id=str(g.get("id", "")),
                name=str((g.get("properties") or {}).get("name", "")),
                polygons=tuple(_polygons(g, arcs)),
            )
            for g in members
        ]
    except (IndexError, KeyError, TypeError) as error:
        raise InvalidDocument(f"topology: malformed geometry ({error!r})") from None


def read_countries(path: Path) -> list[Country]:
    """Country outlines from a world-atlas TopoJSON file."""
    try:
        topology = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise WebAssetsMissing(f"{path}: cannot be read: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise InvalidDocument(f"{path}: not valid JSON: {error.msg}") from None
    return decode_topology(topology)


def _extent(rings: list[list[LonLat]], pad_deg: float) -> tuple[float, float, float, float]:
    lons = [lon for ring in rings for lon, _ in ring]
    lats = [lat for ring in rings for _, lat in ring]
    if not lons:
        return (-180.0, 180.0, -85.0, 85.0)
    west, east = min(lons) - pad_deg, max(lons) + pad_deg
    south, north = max(-89.0, min(lats) - pad_deg), min(89.0, max(lats) + pad_deg)
    return west, east, south, north


def render_map(
    path: Path,
    volumes: Sequence[ReportVolume],
    conflicts: Sequence[ReportConflict] = (),
    countries: Sequence[Country] = (),
    *,
    title: str = "",
    dpi: int = 110,
) -> Path:
    """Draw every volume's outline coloured by party (notices solid, plans dashed), conflicts in
    red with where the two volumes meet, over the countries; write a PNG to ``path``.

    With conflicts there are two panels: the whole picture, and a close-up of the volumes in
    conflict with every volume id labelled."""
    outlines = {v.id: v.volume.footprint.outline() for v in volumes}
    centre = _centre_lon(list(outlines.values()))
    rings = {key: unwrap_ring(ring, centre) for key, ring in outlines.items()}
    overview = _extent(list(rings.values()), pad_deg=1.5)
    in_conflict = [key for c in conflicts for key in c.volume_ids if key in rings]
    panels = [(overview, "all volumes")]
    if in_conflict:
        panels.append((_extent([rings[k] for k in in_conflict], pad_deg=0.6), "conflicts"))
    shapes = [_aspect_ratio(bounds) for bounds, _ in panels]
    figure = Figure(figsize=(min(18.0, 7.0 * sum(shapes) + 1.0), 8.0), dpi=dpi)
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(1, len(panels), width_ratios=shapes)
    parties = sorted({v.party for v in volumes})
    colours = party_colours(parties)
    for i, (bounds, name) in enumerate(panels):
        ax = figure.add_subplot(grid[0, i])
        _draw_panel(
            ax, bounds, volumes, rings, conflicts, countries, colours, labels=(i == len(panels) - 1)
        )
        ax.set_title(name, fontsize=10)
    handles: list[Any] = [Patch(facecolor=colours[p], alpha=0.5, label=p) for p in parties]
    handles += [
        Line2D([], [], color="#333333", linestyle="-", label="notice"),
        Line2D([], [], color="#333333", linestyle="--", label="plan (private)"),
    ]
    if conflicts:
        handles.append(Patch(facecolor=_CONFLICT, alpha=0.5, label="conflict"))
    figure.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    if title:
        figure.suptitle(title, fontsize=12)
    figure.text(
        0.99,
        0.005,
        "Country outlines: Natural Earth, via world-atlas",
        ha="right",
        va="bottom",
        fontsize=7,
        color="#666666",
    )
    figure.tight_layout(rect=(0.0, 0.05, 1.0, 0.97))
    path = Path(path)
    image = io.BytesIO()
    figure.savefig(image, format="png")
    owner_only.write(path, image.getvalue())  # the map shows every party's plans
    return path


def _aspect_ratio(bounds: tuple[float, float, float, float]) -> float:
    """Width over height of a panel drawn with the local scale of longitude."""
    west, east, south, north = bounds
    return (east - west) * _x_scale(bounds) / max(1e-6, north - south)


def _x_scale(bounds: tuple[float, float, float, float]) -> float:
    return max(0.1, math.cos(math.radians((bounds[2] + bounds[3]) / 2.0)))


def _draw_panel(
    ax: Any,
    bounds: tuple[float, float, float, float],
    volumes: Sequence[ReportVolume],
    rings: Mapping[str, list[LonLat]],
    conflicts: Sequence[ReportConflict],
    countries: Sequence[Country],
    colours: Mapping[str, str],
    labels: bool,
) -> None:
    west, east, south, north = bounds
    ax.set_facecolor("#dcecf5")
    land = [
        unwrap_ring(polygon[0], (west + east) / 2.0)
        for country in countries
        for polygon in country.polygons
        if polygon and len(polygon[0]) >= 3
    ]
    ax.add_collection(
        PolyCollection(land, facecolors="#f3f0e8", edgecolors="#9a948a", linewidths=0.6, zorder=1)
    )
    _label_countries(ax, countries, bounds)
    in_conflict = {key for c in conflicts for key in c.volume_ids}
    for volume in volumes:
        colour = colours[volume.party]
        ring = rings[volume.id]
        hit = volume.id in in_conflict
        ax.add_patch(
            PolygonPatch(
                ring, closed=True, facecolor=colour, alpha=0.10, edgecolor="none", zorder=2
            )
        )
        ax.add_patch(
            PolygonPatch(
                ring,
                closed=True,
                fill=False,
                edgecolor=_CONFLICT if hit else colour,
                linewidth=2.2 if hit else 1.2,
                linestyle="--" if volume.kind == "plan" else "-",
                zorder=3,
            )
        )
        if labels:
            x, y = _label_point(ring, bounds)
            ax.annotate(
                volume.id,
                (x, y),
                fontsize=7,
                color=colour,
                zorder=5,
                xytext=(3, 3),
                textcoords="offset points",
                clip_on=True,
            )
    for conflict in conflicts:
        a, b = conflict.volume_ids
        if a in rings and b in rings:
            _draw_meeting(ax, conflict_geometry(rings[a], rings[b]), (west + east) / 2.0)
    ax.set_xlim(west, east)
    ax.set_ylim(south, north)
    ax.set_aspect(1.0 / _x_scale(bounds))
    ax.set_xlabel("longitude (degrees east)", fontsize=8)
    ax.set_ylabel("latitude (degrees north)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(color="#ffffff", linewidth=0.5, zorder=0)


def _label_point(ring: Sequence[LonLat], bounds: tuple[float, float, float, float]) -> LonLat:
    """A point of the outline inside the panel, for the volume's label."""
    west, east, south, north = bounds
    shape = shapely.make_valid(shapely.Polygon(ring))
    inside = shape.intersection(shapely.box(west, south, east, north))
    point = (inside if not inside.is_empty else shape).representative_point()
    return point.x, point.y


def _centre_lon(rings: list[list[LonLat]]) -> float:
    """The mean direction of the rings' first points, as a longitude (robust at 180)."""
    if not rings:
        return 0.0
    x = sum(math.cos(math.radians(r[0][0])) for r in rings)
    y = sum(math.sin(math.radians(r[0][0])) for r in rings)
    return math.degrees(math.atan2(y, x))


def _draw_meeting(ax: Any, geometry: shapely.Geometry, centre: float) -> None:
    for part in getattr(geometry, "geoms", [geometry]):
        if isinstance(part, shapely.Polygon):
            ring = unwrap_ring(list(part.exterior.coords), centre)
            ax.add_patch(
                PolygonPatch(
                    ring,
                    closed=True,
                    facecolor=_CONFLICT,
                    alpha=0.45,
                    edgecolor=_CONFLICT,
                    hatch="////",
                    zorder=4,
                )
            )
        elif isinstance(part, shapely.LineString):
            xs, ys = zip(*part.coords, strict=True)
            ax.plot(xs, ys, color=_CONFLICT, linewidth=3, zorder=4)


def _label_countries(
    ax: Any, countries: Sequence[Country], bounds: tuple[float, float, float, float]
) -> None:
    """Name each country whose land inside the panel is big enough to hold its name."""
    west, east, south, north = bounds
    view = shapely.box(west, south, east, north)
    smallest = 0.02 * view.area
    for country in countries:
        if not country.name:
            continue
        parts = [
            shapely.make_valid(shapely.Polygon(unwrap_ring(p[0], (west + east) / 2.0)))
            for p in country.polygons
            if len(p[0]) >= 4
        ]
        inside = shapely.union_all(parts).intersection(view) if parts else None
        if inside is None or inside.is_empty or inside.area < smallest:
            continue
        point = inside.representative_point()
        ax.annotate(
            country.name,
            (point.x, point.y),
            fontsize=8,
            color="#8a8478",
            ha="center",
            zorder=1.5,
            style="italic",
        )
