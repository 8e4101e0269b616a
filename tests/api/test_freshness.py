"""``Deconflict-Detection: pending``: the API says when an answer was made before detection
passed the caller's own writes (how it comes to be: ``test_hostile_timing.py``)."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from deconflict.api import ApiSettings, create_app
from deconflict.api.freshness import HEADER, DetectionFreshness
from deconflict.runtime.freshness import FRESHNESS

pytestmark = pytest.mark.anyio


async def _answer(request: Request) -> JSONResponse:
    heard = FRESHNESS.get()
    assert heard is not None  # set for every request
    if request.query_params.get("behind"):
        heard.behind = True
    return JSONResponse({"conflicts": []})


async def test_the_header_says_pending_only_on_an_answer_made_behind() -> None:
    app = DetectionFreshness(Starlette(routes=[Route("/read", _answer)]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
        behind = await client.get("/read", params={"behind": "1"})
        fresh = await client.get("/read")
    assert behind.headers[HEADER] == "pending"
    assert HEADER not in fresh.headers
    assert FRESHNESS.get() is None  # nothing left set once answered


def test_the_service_hears_detection_freshness(tmp_path) -> None:
    app = create_app(ApiSettings(db=tmp_path / "hub.db"))
    assert DetectionFreshness in [m.cls for m in app.user_middleware]
