"""What the hostile-party browser tests share: text a hostile party writes (each string tries
every way HTML can run script, names the field it sits in, and carries a right-to-left override),
the API answers the operations view reads filled with it in every field, and a page that records
what would show that script ran: a sentinel (``window.__pwned``), a dialog, a request to a URL
the view never asks for, a script error, a Content-Security-Policy violation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from playwright.sync_api import Browser, Page, Route

#: Each field's hostile text is this with {f} the field's name: an <img> whose source fails
#: (at "x", on the view's own origin), a script, an attribute breaker and an SVG, a javascript:
#: link, a frame, an image off the machine, a style, and a right-to-left override.
TEMPLATE = (
    "{f}<img src=x onerror=\"window.__pwned='{f}'\">"
    "\"'><svg onload=\"window.__pwned='{f}'\">"
    "<script>window.__pwned='{f}'</script>"
    "' onmouseover='window.__pwned=\"{f}\"' x='"
    "<a href=\"javascript:window.__pwned='{f}'\">link</a>"
    "<iframe src=\"javascript:parent.__pwned='{f}'\"></iframe>"
    '<img src="http://evil.invalid/{f}.png">'
    "<style>body{{display:none}}</style>"
    "\u202e{f}\u202c"
)

#: Short enough for the API's 200-character fields: what a party can really file.
SHORT = "{f}<img src=x onerror=window.__pwned='{f}'>\"'><svg onload=window.__pwned=1>"

#: Longer than any field the page should draw in full: it must not hang or swallow the page.
LONG_CHARS = 100_000


def hostile(name: str) -> str:
    return TEMPLATE.format(f=name)


def short_hostile(name: str, rtl: bool = True) -> str:
    """``SHORT`` for the field ``name``, ending in a right-to-left override if ``rtl`` (not for
    an id: one outside Latin-1 breaks the Location header, issue 18's item 3, not this one)."""
    return SHORT.format(f=name) + (f"\u202e{name}" if rtl else "")


def long_hostile(name: str) -> str:
    return name + "L" * LONG_CHARS + hostile(name)


#: Where the view's own files and the API are: anything else it asks for is the hostile text's.
VIEW_PATHS = ("/ui/", "/vendor/", "/v1/")

#: Run in the page before its own scripts: record every CSP violation.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.effectiveDirective}: ${e.blockedURI || "inline"}`);
});
"""


@dataclass
class Watched:
    """A page and what it did that it should not have."""

    page: Page
    origin: str
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def unexpected(self) -> list[str]:
        """Requests the view never makes itself: off its origin, or to a path of no route."""
        out = []
        for url in self.requests:
            parsed = urlparse(url)
            if parsed.scheme == "file":
                ours = self.origin.startswith("file:")
            else:
                ours = f"{parsed.scheme}://{parsed.netloc}" == self.origin and (
                    parsed.path == "/" or parsed.path.startswith(VIEW_PATHS)
                )
            if not ours:
                out.append(url)
        return out

    def pwned(self) -> Any:
        return self.page.evaluate("window.__pwned")

    def violations(self) -> list[str]:
        found: list[str] = self.page.evaluate("window.__violations || []")
        return found

    def assert_nothing_ran(self) -> None:
        assert self.pwned() is None, f"hostile script ran (from the field {self.pwned()!r})"
        assert self.dialogs == [], f"hostile script opened dialogs: {self.dialogs}"
        assert self.unexpected() == [], f"the page asked for: {self.unexpected()}"
        assert self.errors == [], f"script errors on the page: {self.errors}"


@contextmanager
def watched_page(
    browser: Browser, origin: str, bypass_csp: bool = False, record: bool = True
) -> Iterator[Watched]:
    """A 1280x720 page that records what :class:`Watched` checks, and refuses every request
    off this machine (``origin``: the view's, or ``file://`` for the demo's map.html)."""
    context = browser.new_context(viewport={"width": 1280, "height": 720}, bypass_csp=bypass_csp)
    try:
        page = context.new_page()
        watched = Watched(page, origin)

        def guard(route: Route) -> None:
            url = route.request.url
            watched.requests.append(url)
            parsed = urlparse(url)
            if parsed.scheme == "file" or parsed.hostname == "127.0.0.1":
                route.fallback()
            else:
                route.abort()

        context.route("**/*", guard)
        if record:
            page.add_init_script(RECORD_VIOLATIONS)

        def on_dialog(dialog: Any) -> None:
            watched.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda error: watched.errors.append(str(error)))
        yield watched
    finally:
        context.close()


# hostile answers for every field the view shows --------------------------------------------

START, END = "2099-01-01T06:00:00Z", "2099-01-01T08:00:00Z"
MIDDLE_S = 4_070_934_000  # 2099-01-01T07:00:00Z, when every timed volume above is active


def _square(lon: float, lat: float, size: float = 0.2) -> dict[str, Any]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def hostile_map(prefix: str = "map") -> dict[str, Any]:
    """GET /v1/map as a hostile hub could answer: every string another party can set is hostile
    (a volume's id, party, owner, category, state, alert and window; a conflict's id, parties,
    volumes, records, state, window, lead time, alert, suggestion and what cleared it), one
    category is ``LONG_CHARS`` long, and one volume's times are not times at all."""

    def h(name: str) -> str:
        return hostile(f"{prefix}.{name}")

    notice = {
        "type": "Feature",
        "id": h("notice.feature-id"),
        "geometry": _square(39.0, 35.9),
        "properties": {
            "id": h("notice.id"),
            "party": h("notice.party"),
            "kind": "notice",
            "owner": h("notice.owner"),
            "footprint": h("notice.footprint"),
            "lower_m": 1000.0,
            "upper_m": 8000.0,
            "start": START,
            "end": END,
            "window": h("notice.window"),
            "category": h("notice.category"),
            "state": h("notice.state"),
            "alert": h("notice.alert"),
            "notification": h("notice.notification"),
        },
    }
    long = json.loads(json.dumps(notice))
    long["properties"].update(
        id=h("long.id"), category=long_hostile(f"{prefix}.long.category"), window=None
    )
    long["geometry"] = _square(39.3, 35.9)
    plan = {
        "type": "Feature",
        "id": "plan-1",
        "geometry": _square(39.1, 35.8),
        "properties": {
            "id": h("plan.id"),
            "party": h("plan.party"),
            "kind": "plan",
            "owner": h("plan.owner"),
            "lower_m": 1000.0,
            "upper_m": 8000.0,
            "start": START,
            "end": END,
            "window": h("plan.window"),
            "category": "plan",
            "state": h("plan.state"),
        },
    }
    untimed = json.loads(json.dumps(notice))
    untimed["properties"].update(id=h("untimed.id"), start=h("untimed.start"), end=h("x"))
    conflict = {
        "type": "Feature",
        "id": h("conflict.feature-id"),
        "geometry": _square(39.1, 35.9, 0.1),
        "properties": {
            "id": h("conflict.id"),
            "kind": "conflict",
            "state": h("conflict.state"),
            "parties": [h("conflict.party-a"), h("conflict.party-b")],
            "volumes": [h("conflict.volume-a"), h("conflict.volume-b")],
            "records": [h("conflict.record-a"), h("conflict.record-b")],
            "start": START,
            "end": END,
            "window": h("conflict.window"),
            "lead_time_s": 3600.0,
            "lead_time": h("conflict.lead-time"),
            "suggestion": [h("conflict.suggestion-1"), h("conflict.suggestion-2")],
            "alert": h("conflict.alert"),
            "notification": h("conflict.notification"),
        },
    }
    hidden = json.loads(json.dumps(conflict))
    hidden["geometry"] = None
    hidden["properties"].update(
        id=h("hidden.id"),
        state="resolved",
        volumes=[h("hidden.volume-a"), None],
        suggestion=[],
        cleared_by=h("hidden.cleared-by"),
    )
    return {
        "type": "FeatureCollection",
        "party": h("party"),
        "now": "2099-01-01T07:00:00Z",
        "features": [notice, long, plan, untimed, conflict, hidden],
    }


def hostile_notifications(recipient: str, prefix: str = "inbox") -> list[dict[str, Any]]:
    """GET /v1/notifications as a hostile hub could answer: one to ``recipient`` (so the view
    offers to acknowledge it), one relayed, every other string hostile (ids, kind, state,
    notice and conflict ids, the relay, and times that are not times)."""

    def h(name: str) -> str:
        return hostile(f"{prefix}.{name}")

    base = {
        "lead_time_s": 3600.0,
        "delivered_at": None,
        "acknowledged_at": None,
        "escalated_at": None,
    }
    return [
        {
            **base,
            "id": h("notice.id"),
            "recipient": recipient,
            "kind": "notice",
            "state": h("notice.state"),
            "notice_id": h("notice.notice-id"),
            "conflict_id": None,
            "via": h("notice.via"),
            "created_at": "2099-01-01T05:00:00Z",
            "ack_deadline": "2099-01-01T05:30:00Z",
        },
        {
            **base,
            "id": h("conflict.id"),
            "recipient": recipient,
            "kind": "conflict",
            "state": "escalated",
            "notice_id": None,
            "conflict_id": h("conflict.conflict-id"),
            "via": None,
            "created_at": h("conflict.created-at"),
            "ack_deadline": h("conflict.ack-deadline"),
        },
        {
            **base,
            "id": h("relayed.id"),
            "recipient": h("relayed.recipient"),
            "kind": h("relayed.kind"),
            "state": "pending",
            "notice_id": h("relayed.notice-id"),
            "conflict_id": None,
            "via": h("relayed.via"),
            "created_at": "2099-01-01T04:00:00Z",
            "ack_deadline": "2099-01-01T04:30:00Z",
        },
    ]


def event_stream_body(notifications: list[dict[str, Any]]) -> str:
    return "retry: 60000\n\n" + "".join(
        f"id: 1.{i}\nevent: notification\ndata: {json.dumps(n)}\n\n"
        for i, n in enumerate(notifications)
    )


def route_hostile_api(
    page: Page, party: str, collection: dict[str, Any], notifications: list[dict[str, Any]]
) -> Callable[[], list[str]]:
    """Answer every /v1/ request of ``page`` as a hostile hub would (the view's own files come
    from the real server); returns what it was asked, as ``METHOD path``."""
    asked: list[str] = []
    streamed = [dict(n, id=n["id"] + ".streamed") for n in notifications]

    def answer(route: Route) -> None:
        request = route.request
        path = urlparse(request.url).path
        asked.append(f"{request.method} {path}")
        if path == "/v1/session" and request.method == "DELETE":
            route.fulfill(status=204)
            return
        if path == "/v1/session":
            body: Any = {"party": party, "scopes": ["read", "ack"], "expires_at": END}
        elif path == "/v1/map":
            body = collection
        elif path == "/v1/notifications":
            body = notifications
        elif path == "/v1/events":
            route.fulfill(
                status=200,
                headers={"Content-Type": "text/event-stream"},
                body=event_stream_body(streamed),
            )
            return
        else:
            route.fulfill(status=404, json={"status": 404, "detail": "not routed"})
            return
        route.fulfill(status=200, json=body)

    page.route("**/v1/**", answer)
    return lambda: list(asked)
