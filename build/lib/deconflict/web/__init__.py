"""The maps' shared parts: where the operations view's files are, and outlines as drawn.

The operations view is plain static files (``static/``: index.html, app.js, app.css; no build
step). Leaflet, topojson-client and the Natural Earth country outlines (world-atlas) are
installed by npm at set-up into the repository's ``web/node_modules``, never copied into the
repository; the API serves them (:mod:`deconflict.api.ui`) and the demo inlines them into one
self-contained ``map.html`` (:mod:`deconflict.demo.htmlmap`).
"""

from __future__ import annotations

from deconflict.web.assets import (
    WebAssetsMissing,
    countries_file,
    leaflet_dist,
    node_modules,
    static_dir,
    topojson_script,
)
from deconflict.web.outline import outline_geometry, party_colours

__all__ = [
    "WebAssetsMissing",
    "countries_file",
    "leaflet_dist",
    "node_modules",
    "outline_geometry",
    "party_colours",
    "static_dir",
    "topojson_script",
]
