"""Where the map's files are: the packaged static files and what npm installed at set-up.

npm installs into ``web/node_modules`` of the repository this source tree is in (``make setup``);
the country outlines are the ``world-atlas`` setting's file, as for the demo's PNG map.
"""

from __future__ import annotations

from pathlib import Path

from deconflict.errors import DeconflictError

__all__ = [
    "WebAssetsMissing",
    "countries_file",
    "leaflet_dist",
    "node_modules",
    "static_dir",
    "topojson_script",
]


class WebAssetsMissing(DeconflictError, FileNotFoundError):
    """Leaflet, topojson-client or world-atlas is not installed where it was looked for."""


def static_dir() -> Path:
    """The packaged static files of the operations view."""
    return Path(__file__).resolve().parent / "static"


def node_modules() -> Path:
    """The node_modules folder npm installs into at set-up (it may not exist yet)."""
    # src/deconflict/web/assets.py -> the repository is three levels above the package.
    return Path(__file__).resolve().parents[3] / "web" / "node_modules"


def _need(path: Path) -> Path:
    if not path.exists():
        raise WebAssetsMissing(f"{path} is missing: run `make setup` (it installs it with npm)")
    return path


def leaflet_dist() -> Path:
    """Leaflet's dist folder (leaflet.js, leaflet.css)."""
    return _need(node_modules() / "leaflet" / "dist")


def topojson_script() -> Path:
    """topojson-client's browser build, which turns the TopoJSON outlines into GeoJSON."""
    return _need(node_modules() / "topojson-client" / "dist" / "topojson-client.min.js")


def countries_file() -> Path:
    """The world-atlas countries TopoJSON the maps draw."""
    from deconflict.demo.mapping import WorldAtlasMissing, find_world_atlas

    try:
        return find_world_atlas()
    except WorldAtlasMissing as missing:
        raise WebAssetsMissing(str(missing)) from None
