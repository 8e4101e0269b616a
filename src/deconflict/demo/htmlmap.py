"""The demo's self-contained HTML map: report/map.html opens from disk with no server and no
network, and shows the operations view's picture (the same page, script and styles, with the
time slider) of the scenario.

Leaflet's script and styles, topojson-client and the world-atlas countries are read from
``web/node_modules`` (installed by npm at set-up) and inlined, with the scenario's
volumes.geojson, into one file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from deconflict.web import countries_file, leaflet_dist, static_dir, topojson_script

__all__ = ["html_map", "write_html_map"]


def _script(text: str) -> str:
    return "<script>\n" + text.replace("</script", "<\\/script") + "\n</script>"


def _style(text: str) -> str:
    return "<style>\n" + text.replace("</style", "<\\/style") + "\n</style>"


def _swap(page: str, tag: str, inline: str) -> str:
    if tag not in page:  # pragma: no cover - index.html and this module change together
        raise ValueError(f"index.html no longer has {tag!r}")
    return page.replace(tag, inline)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def html_map(collection: dict[str, Any], title: str) -> str:
    """The page with everything inlined: Leaflet, the countries, the volumes, the view's code."""
    static, leaflet = static_dir(), leaflet_dist()
    data = {
        "title": title,
        "map": collection,
        "countries": json.loads(countries_file().read_text(encoding="utf-8")),
    }
    page = (static / "index.html").read_text(encoding="utf-8")
    page = _swap(
        page,
        '<link rel="stylesheet" href="/vendor/leaflet/leaflet.css">',
        _style(_read(leaflet / "leaflet.css")),
    )
    page = _swap(
        page, '<link rel="stylesheet" href="/ui/app.css">', _style(_read(static / "app.css"))
    )
    page = _swap(
        page,
        '<script src="/vendor/leaflet/leaflet.js"></script>',
        _script(_read(leaflet / "leaflet.js")),
    )
    page = _swap(
        page,
        '<script src="/vendor/topojson-client/topojson-client.min.js"></script>',
        _script(_read(topojson_script())),
    )
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    page = _swap(
        page,
        '<script src="/ui/app.js"></script>',
        _script(f"window.DECONFLICT_DATA = {payload};") + "\n" + _script(_read(static / "app.js")),
    )
    return page.replace("<title>deconflict: operations view</title>", f"<title>{title}</title>")


def write_html_map(folder: Path, collection: dict[str, Any], title: str) -> Path:
    """Write ``folder``/map.html (raises WebAssetsMissing when npm has not installed Leaflet)."""
    path = Path(folder) / "map.html"
    path.write_text(html_map(collection, title), encoding="utf-8")
    return path
