"""The operations view's routes, all served locally so the view works with no internet: the
page at ``/``, its files under ``/ui/``, what it loads from npm packages under ``/vendor/``
(Leaflet, topojson-client, and the Natural Earth country outlines of the world-atlas setting),
and the API docs at ``/docs`` (Swagger UI, from ``/vendor/swagger-ui/``, over ``/openapi.json``).
All of them are package files (:mod:`deconflict.web.assets`), so an installed wheel serves them.

The page asks the API as the signed-in party (with the session cookie its token was exchanged
for: :mod:`deconflict.api.session`), so what it shows is what that party may see. Every response
here carries the protective headers of :mod:`deconflict.api.headers`.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from deconflict.api.problems import ApiError
from deconflict.web.assets import WebAssetsMissing, countries_file, static_dir, vendor_dir

__all__ = ["COUNTRIES_PATH", "install"]

#: Where the page fetches the country outlines from.
COUNTRIES_PATH = "/vendor/world-atlas/countries.json"


def install(app: FastAPI) -> None:
    """Add the page, the API docs and their static routes to ``app`` (the vendored npm files
    of a source checkout that has not run ``make setup`` answer 404)."""
    static, vendor = static_dir(), vendor_dir()

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(static / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/docs", include_in_schema=False)
    async def docs() -> FileResponse:
        return FileResponse(static / "docs.html")

    @app.get(COUNTRIES_PATH, include_in_schema=False)
    async def countries() -> FileResponse:
        try:
            return FileResponse(countries_file(), media_type="application/json")
        except WebAssetsMissing as missing:
            raise ApiError(404, str(missing)) from None

    app.mount("/ui", StaticFiles(directory=static), name="ui")
    if vendor.is_dir():
        app.mount("/vendor", StaticFiles(directory=vendor), name="vendor")
