"""The maps' shared parts: where the operations view's files are, and outlines as drawn.

The operations view is plain static files (``static/``: index.html, app.js, app.css; no build
step). What it loads from npm (Leaflet, topojson-client, the Natural Earth country outlines of
world-atlas, and Swagger UI for the API docs) is copied into ``vendor/`` beside them when the
package is set up or built, never committed (:mod:`deconflict.web.assets`); the API serves both
(:mod:`deconflict.api.ui`) and the demo inlines them into one self-contained ``map.html``
(:mod:`deconflict.demo.htmlmap`).
"""

from __future__ import annotations

from deconflict.web.assets import (
    ATLAS_ENV,
    WebAssetsMissing,
    countries_file,
    leaflet_dist,
    static_dir,
    swagger_ui_dist,
    topojson_script,
    vendor_dir,
)
from deconflict.web.outline import outline_geometry, party_colours

__all__ = [
    "ATLAS_ENV",
    "WebAssetsMissing",
    "countries_file",
    "leaflet_dist",
    "outline_geometry",
    "party_colours",
    "static_dir",
    "swagger_ui_dist",
    "topojson_script",
    "vendor_dir",
]
