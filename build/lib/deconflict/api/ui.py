"""The operations view's routes, all served locally so the view works with no internet: the
page at ``/``, its files under ``/ui/``, and what npm installed at set-up under ``/vendor/``
(Leaflet, topojson-client, and the Natural Earth country outlines of the world-atlas setting).

The page asks the API as the signed-in party (with the session cookie its token was exchanged
for: :mod:`deconflict.api.session`), so what it shows is what that party may see. Every response
here carries the protective headers of :mod:`deconflict.api.headers`.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from deconflict.api.problems import ApiError
from deconflict.web import WebAssetsMissing, countries_file, node_modules, static_dir

__all__ = ["COUNTRIES_PATH", "install"]

#: Where the page fetches the country outlines from.
COUNTRIES_PATH = "/vendor/world-atlas/countries.json"


def install(app: FastAPI) -> None:
    """Add the page and its static routes to ``app`` (what npm did not install answers 404)."""
    static = static_dir()
    modules = node_modules()

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(static / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get(COUNTRIES_PATH, include_in_schema=False)
    async def countries() -> FileResponse:
        try:
            return FileResponse(countries_file(), media_type="application/json")
        except WebAssetsMissing as missing:
            raise ApiError(404, str(missing)) from None

    app.mount("/ui", StaticFiles(directory=static), name="ui")
    for name, folder in (
        ("leaflet", modules / "leaflet" / "dist"),
        ("topojson-client", modules / "topojson-client" / "dist"),
    ):
        app.mount(f"/vendor/{name}", StaticFiles(directory=folder, check_dir=False), name=name)
