"""Where the map's files are: all inside the package, so an installed wheel serves them too.

``static/`` holds the operations view's own files (in the repository). ``vendor/`` holds what
it loads from npm packages (Leaflet, topojson-client, the world-atlas country outlines, Swagger
UI for the API docs): never committed, it is copied from ``web/node_modules`` by ``make setup``
(for a source checkout) and by ``make dist`` (before the wheel and sdist are built, which carry
it as package data). Both are found beside this module, never through the source tree around
the package, so a checkout and an installed wheel find them the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from deconflict.errors import DeconflictError
from deconflict.settings import SETTINGS, setting_value

__all__ = [
    "ATLAS_ENV",
    "WebAssetsMissing",
    "countries_file",
    "leaflet_dist",
    "static_dir",
    "swagger_ui_dist",
    "topojson_script",
    "vendor_dir",
]

#: Environment variable that names a world-atlas countries file to draw instead of the packaged.
ATLAS_ENV = SETTINGS["world-atlas"].env

_PACKAGE = Path(__file__).resolve().parent


class WebAssetsMissing(DeconflictError, FileNotFoundError):
    """A file of the view (Leaflet, topojson-client, world-atlas, Swagger UI) is not where it
    was looked for."""


def static_dir() -> Path:
    """The operations view's own files (index.html, app.js, app.css, ...)."""
    return _PACKAGE / "static"


def vendor_dir() -> Path:
    """The npm packages' files the view loads, one folder per package (it may not exist yet in
    a source checkout that has not run ``make setup``)."""
    return _PACKAGE / "vendor"


def _need(path: Path) -> Path:
    if not path.exists():
        raise WebAssetsMissing(
            f"{path} is missing: run `make setup` (it installs the web packages with npm and "
            "copies them into the package)"
        )
    return path


def leaflet_dist() -> Path:
    """Leaflet's dist folder (leaflet.js, leaflet.css, images/)."""
    return _need(vendor_dir() / "leaflet")


def topojson_script() -> Path:
    """topojson-client's browser build, which turns the TopoJSON outlines into GeoJSON."""
    return _need(vendor_dir() / "topojson-client" / "topojson-client.min.js")


def swagger_ui_dist() -> Path:
    """Swagger UI's browser bundle and styles, which the API docs page (``/docs``) loads."""
    return _need(vendor_dir() / "swagger-ui")


def countries_file(environ: Mapping[str, str] | None = None) -> Path:
    """The world-atlas countries TopoJSON the maps draw: ``$DECONFLICT_WORLD_ATLAS`` if set,
    else the packaged ``countries-50m.json``."""
    named = setting_value("world-atlas", environ)
    if named:
        path = Path(named)
        if not path.is_file():
            raise WebAssetsMissing(f"{ATLAS_ENV} names {path}, which is not a file")
        return path
    return _need(vendor_dir() / "world-atlas" / "countries-50m.json")
