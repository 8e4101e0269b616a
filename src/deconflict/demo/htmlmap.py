"""The demo's self-contained HTML map: report/map.html opens from disk with no server and no
network, and shows the operations view's picture (the same page, script and styles, with the
time slider) of the scenario.

Leaflet's script and styles, topojson-client and the world-atlas countries are read from the
package's copy of them (:mod:`deconflict.web.assets`) and inlined, with the scenario's
volumes.geojson, into one file.

A file opened from disk has no response headers, so the page carries its Content-Security-Policy
in a ``<meta>`` element: nothing from anywhere (``default-src 'none'``), and of inline scripts
and styles only those written here, each allowed by its SHA-256 hash, and Trusted Types as
the served page has them (:mod:`deconflict.api.headers`). The scenario (text that
parties wrote) is not a script: it is a JSON data block (``type="application/json"``, which no
browser runs and no policy needs to allow) that the view parses, with every ``<``, ``>`` and
``&`` escaped so that no text in it can end the block. (A meta policy cannot say
``frame-ancestors``; a file is framed by nothing that matters.)
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from pathlib import Path
from typing import Any

from deconflict import owner_only
from deconflict.web import countries_file, leaflet_dist, static_dir, topojson_script

__all__ = ["html_map", "write_html_map"]

_ICON = '<link rel="icon" href="/ui/favicon.svg" type="image/svg+xml">'
_CHARSET = '<meta charset="utf-8">'
_TITLE = "<title>deconflict: operations view</title>"


class _Inlined:
    """Inline scripts and styles, and the hashes a policy allows them by."""

    def __init__(self) -> None:
        self.scripts: list[str] = []
        self.styles: list[str] = []

    @staticmethod
    def _hash(content: str) -> str:
        digest = hashlib.sha256(content.encode("utf-8")).digest()
        return f"'sha256-{base64.b64encode(digest).decode()}'"

    @staticmethod
    def _body(text: str, tag: str) -> str:
        # Code is inlined as it is: one that could end its element early, or open an HTML
        # comment that changes how the parser finds the end, is refused, not rewritten.
        if re.search(f"</{tag}|<!--", text, re.IGNORECASE):
            raise ValueError(f"cannot inline code that contains '</{tag}' or '<!--'")
        return f"\n{text}\n"

    def script(self, text: str) -> str:
        body = self._body(text, "script")
        self.scripts.append(self._hash(body))
        return f"<script>{body}</script>"

    def style(self, text: str) -> str:
        body = self._body(text, "style")
        self.styles.append(self._hash(body))
        return f"<style>{body}</style>"

    def policy(self) -> str:
        return "; ".join(
            [
                "default-src 'none'",
                f"script-src {' '.join(self.scripts)}",
                f"style-src {' '.join(self.styles)}",
                "object-src 'none'",
                "base-uri 'none'",
                "form-action 'none'",
                "require-trusted-types-for 'script'",
                "trusted-types default",
            ]
        )


def _data_block(data: Any) -> str:
    """``data`` as a JSON data block that no text in it can end or turn into markup."""
    payload = json.dumps(data, separators=(",", ":"))
    for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        payload = payload.replace(char, escaped)
    return f'<script type="application/json" id="deconflict-data">{payload}</script>'


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
    inlined = _Inlined()
    page = (static / "index.html").read_text(encoding="utf-8")
    page = _swap(page, _ICON, "")
    page = _swap(
        page,
        '<link rel="stylesheet" href="/vendor/leaflet/leaflet.css">',
        inlined.style(_read(leaflet / "leaflet.css")),
    )
    page = _swap(
        page, '<link rel="stylesheet" href="/ui/app.css">', inlined.style(_read(static / "app.css"))
    )
    page = _swap(
        page,
        '<script src="/ui/trusted-types.js"></script>',
        inlined.script(_read(static / "trusted-types.js")),
    )
    page = _swap(
        page,
        '<script src="/vendor/leaflet/leaflet.js"></script>',
        inlined.script(_read(leaflet / "leaflet.js")),
    )
    page = _swap(
        page,
        '<script src="/vendor/topojson-client/topojson-client.min.js"></script>',
        inlined.script(_read(topojson_script())),
    )
    page = _swap(
        page,
        '<script src="/ui/app.js"></script>',
        _data_block(data) + "\n" + inlined.script(_read(static / "app.js")),
    )
    policy = f'<meta http-equiv="Content-Security-Policy" content="{inlined.policy()}">'
    page = _swap(page, _CHARSET, f"{_CHARSET}\n{policy}")
    return _swap(page, _TITLE, f"<title>{html.escape(title)}</title>")


def write_html_map(folder: Path, collection: dict[str, Any], title: str) -> Path:
    """Write ``folder``/map.html (raises WebAssetsMissing when npm has not installed Leaflet)."""
    path = Path(folder) / "map.html"
    owner_only.write(path, html_map(collection, title).encode())
    return path
