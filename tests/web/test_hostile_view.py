"""The operations view runs no one else's text as code (security.md §6), played by a hostile
party against a victim's browser (Debian's Chromium through Playwright):

- text a hostile party files (ids, volume ids, category) against a real hub shows as text in
  the victim's view, and nothing of it runs;
- hostile answers in every field the view shows (party names, relay names, states, windows,
  suggestions, ... also those no party can set through today's API), served through
  ``page.route`` with the Content-Security-Policy bypassed, so that the rendering itself is
  what is tested;
- the page's Content-Security-Policy stops script that does get into the page;
- the demo's map.html, opened from disk, does the same for a hostile scenario, and runs only
  its own inlined scripts;
- script in the page cannot read the token the party signed in with.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route

from deconflict.api import issue_local_token
from tests.api.harness import circle, loopback, make_db, notice_body
from tests.web.browser import screenshot
from tests.web.hostile import (
    MIDDLE_S,
    hostile,
    hostile_map,
    hostile_notifications,
    route_hostile_api,
    short_hostile,
    watched_page,
)

pytestmark = pytest.mark.browser

#: The view's regions, and what each shows of the hostile map and inbox (field names as in
#: tests/web/hostile.py).
SHOWN = {
    "#who": ["party"],
    "#legend": ["notice.party", "plan.party"],
    "#conflicts": [
        "conflict.party-a",
        "conflict.party-b",
        "conflict.state",
        "conflict.volume-a",
        "conflict.volume-b",
        "conflict.window",
        "conflict.lead-time",
        "conflict.alert",
        "conflict.suggestion-1",
        "conflict.suggestion-2",
        "hidden.volume-a",
        "hidden.cleared-by",
    ],
    "#inbox": [
        "notice.state",
        "notice.notice-id",
        "notice.via",
        "conflict.conflict-id",
        "conflict.created-at",
        "conflict.ack-deadline",
        "relayed.kind",
        "relayed.notice-id",
        "relayed.via",
    ],
    "tooltips": [
        "notice.party",
        "notice.id",
        "notice.owner",
        "notice.category",
        "notice.alert",
        "notice.window",
        "plan.party",
        "plan.id",
        "plan.owner",
        "plan.window",
        "long.id",
        "conflict.party-a",
        "conflict.party-b",
        "conflict.window",
        "conflict.lead-time",
    ],
}

#: Every tooltip the view binds, opened one at a time, and its text.
TOOLTIPS = """() => {
  const view = window.deconflictView;
  const texts = [];
  for (const item of [...view.state.volumes, ...view.state.conflicts]) {
    if (!item.layer || !item.layer.getTooltip()) continue;
    item.layer.openTooltip();
    const tip = item.layer.getTooltip().getElement();
    texts.push(tip ? tip.textContent : "");
    item.layer.closeTooltip();
  }
  return texts.join("\\n");
}"""

#: Elements the hostile text would have made, had it been read as HTML.
MADE = (
    "#who *:is(img,svg,script,iframe,a,style), #legend :is(img,svg,script,iframe,a,style), "
    "#conflicts :is(img,svg,script,iframe,a,style), #inbox :is(img,svg,script,iframe,a,style), "
    ".leaflet-tooltip-pane :is(img,svg,script,iframe,a,style), title *"
)


def _texts(page: Page) -> dict[str, str]:
    texts = {
        region: page.locator(region).text_content() or "" for region in SHOWN if region[0] == "#"
    }
    texts["tooltips"] = page.evaluate(TOOLTIPS)
    return texts


def _hover_everything(page: Page) -> None:
    """Move the mouse over every list item and across the map: an attribute the hostile text
    slipped in (onmouseover) would fire."""
    for item in page.locator("#conflicts li, #inbox li, #legend li").all():
        item.hover()
    box = page.locator("#map").bounding_box()
    assert box is not None
    for i in range(1, 10):
        page.mouse.move(box["x"] + box["width"] * i / 10, box["y"] + box["height"] * i / 10)


@dataclass(frozen=True)
class HostileHub:
    """A real hub on 127.0.0.1 (US, RU, their relay CAOC, FR) where RU has filed hostile text
    against US's plan: its URL, its database, and the fields RU filed with what each holds."""

    url: str
    db: Path
    filed: dict[str, str]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileHub]:
    db = make_db(tmp_path_factory.mktemp("hostile-view"))
    with loopback(db) as url:
        yield HostileHub(url, db, _file_hostile_notice(url, db))


def _bearer(db: Path, party: str, *scopes: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_local_token(db, party, scopes)}"}


def _file_hostile_notice(url: str, db: Path) -> dict[str, str]:
    """RU, hostile, files a notice with hostile text in every field it sets, against US's plan
    (so US is told of it and of a conflict). A field the API refuses (422 naming it) is filed
    plain instead: refusing is safe too. Returns the fields and what was filed in each."""
    ru, us = _bearer(db, "RU", "read", "notice"), _bearer(db, "US", "read", "plan")
    wanted = {
        "notice-id": short_hostile("notice-id", rtl=False),
        "volume-id": short_hostile("volume-id", rtl=False),
        # Printable: a bidirectional override is refused as free text (security.md §3.2);
        # the view's rendering of one is shown through page.route below.
        "category": short_hostile("category", rtl=False),
    }
    with httpx.Client(base_url=url, timeout=10) as http:
        plan = notice_body(circle("US-P1-1", radius_m=20_000.0), id="US-P1")
        assert http.post("/v1/plans", json=plan, headers=us).status_code == 201
        filed = dict(wanted)
        for _ in range(len(filed) + 1):
            body = notice_body(
                circle(filed["volume-id"]), id=filed["notice-id"], category=filed["category"]
            )
            answer = http.post("/v1/notices", json=body, headers=ru)
            if answer.status_code == 201:
                # RU's read waits for its filing's detection: US is told of it by then.
                http.get("/v1/notices", headers=ru).raise_for_status()
                return filed
            assert answer.status_code == 422, answer.text
            where = answer.json().get("field") or ""
            name = {"/id": "notice-id", "/category": "category"}.get(where, "volume-id")
            assert filed[name] == wanted[name], f"refused twice: {answer.text}"
            filed[name] = f"plain-{name}"
    pytest.fail("the hostile notice was never filed")


def test_text_a_hostile_party_files_shows_as_text_in_the_victims_view(
    browser: Browser, hub: HostileHub
) -> None:
    """security.md §6: RU files a notice whose ids and category are HTML and script; US opens
    its view (the real page, its real Content-Security-Policy) and sees that text as text in
    its inbox, conflict list and tooltips, and nothing of it runs."""
    url, db, filed = hub.url, hub.db, hub.filed
    assert filed["category"] == short_hostile("category", rtl=False), "a category is free text"
    token = issue_local_token(db, "US", ["read", "ack"])
    with watched_page(browser, url) as watched:
        page = watched.page
        page.goto(f"{url}/#token={token}")
        page.wait_for_selector("#who[data-party=US]")
        page.wait_for_selector("#inbox [data-notification]", timeout=20_000)
        page.wait_for_selector("#conflicts [data-conflict]", timeout=20_000)
        page.evaluate(f"window.deconflictView.setTime({MIDDLE_S * 1000})")
        _hover_everything(page)
        texts = _texts(page)
        screenshot(page, "hostile-filed")
        assert filed["notice-id"] in texts["#inbox"]
        assert filed["volume-id"] in texts["#conflicts"]
        for value in filed.values():
            assert value in texts["tooltips"]
        assert page.locator(MADE).count() == 0
        watched.assert_nothing_ran()
        assert watched.violations() == [], "the page itself keeps to its policy"


def test_hostile_answers_in_every_field_render_as_text(browser: Browser, hub: HostileHub) -> None:
    """security.md §6: every string the view shows (ids, volume ids, categories, party and relay
    names, states, alerts, windows, lead times, suggestions, times) comes back hostile from the
    API, with the page's CSP bypassed so the rendering alone is tested: all shows as text, a
    100,000-character category does not swallow the page, a time that is not one is skipped,
    and no script runs, no dialog opens, nothing is fetched that the view does not ask for."""
    url = hub.url
    collection = hostile_map("map")
    notifications = hostile_notifications(collection["party"], "inbox")
    with watched_page(browser, url, bypass_csp=True, record=False) as watched:
        page = watched.page
        asked = route_hostile_api(page, collection["party"], collection, notifications)
        page.goto(f"{url}/#token=not-a-real-token")
        page.wait_for_function(
            "() => document.querySelectorAll('#inbox [data-notification]').length >= 3",
            timeout=20_000,
        )
        page.wait_for_selector("#conflicts [data-conflict]")
        page.evaluate(f"window.deconflictView.setTime({MIDDLE_S * 1000})")
        screenshot(page, "hostile-rendered")
        _assert_regions(page, "map", {k: v for k, v in SHOWN.items() if k != "#inbox"})
        _assert_regions(page, "inbox", {"#inbox": SHOWN["#inbox"]})
        long_prefix = "map.long.category" + "L" * 100
        assert long_prefix in _texts(page)["tooltips"], "a very long category shows as text"
        # Ids are kept as data, exactly, wherever the view keeps them.
        conflict_ids = page.eval_on_selector_all(
            "[data-conflict]", "els => els.map(e => e.dataset.conflict)"
        )
        assert sorted(conflict_ids) == sorted(
            f["properties"]["id"]
            for f in collection["features"]
            if f["properties"]["kind"] == "conflict"
        )
        notification_ids = set(
            page.eval_on_selector_all(
                "[data-notification]", "els => els.map(e => e.dataset.notification)"
            )
        )
        assert {n["id"] for n in notifications} <= notification_ids
        # Acknowledging a notification whose id is hostile asks for that id, escaped, and only it.
        page.locator("#inbox .ack").first.click()
        page.wait_for_function("() => !document.querySelector('#inbox .ack:disabled')")
        ours = {n["id"] for n in notifications if n["recipient"] == collection["party"]}
        ackable = {
            f"POST /v1/notifications/{i}{tail}/ack" for i in ours for tail in ("", ".streamed")
        }
        acks = [unquote(a) for a in asked() if a.startswith("POST ") and a != "POST /v1/session"]
        assert len(acks) == 1, acks
        assert acks[0] in ackable, "the view asked to acknowledge that notification, and only it"
        assert page.locator(MADE).count() == 0, "hostile text made elements"
        watched.assert_nothing_ran()


def _assert_regions(page: Page, prefix: str, regions: dict[str, list[str]]) -> None:
    """Each region shows each of its fields' hostile text, as text (after the mouse went over
    everything, in case an attribute slipped in)."""
    _hover_everything(page)
    texts = _texts(page)
    missing = [
        f"{region}: {prefix}.{name}"
        for region, names in regions.items()
        for name in names
        if hostile(f"{prefix}.{name}") not in texts[region]
    ]
    assert missing == [], f"hostile text not shown as text: {missing}"


INJECTED = (
    "<script>window.__pwned='inline script'</script>"
    "<img src=/ui/app.css onerror=\"window.__pwned='event handler'\">"
    "<iframe srcdoc=\"<script>parent.__pwned='frame'</script>\"></iframe>"
)


def test_the_page_runs_no_script_but_its_own_files(browser: Browser, hub: HostileHub) -> None:
    """security.md §6: script that gets into the page anyway (an inline script, an event
    handler attribute, a frame's script: markup inserted into the page as served, with its
    headers) is refused by the Content-Security-Policy, while the page's own files run."""
    url, db = hub.url, hub.db
    with watched_page(browser, url) as watched:
        page = watched.page

        def tamper(route: Route) -> None:
            served = route.fetch()
            body = served.text().replace("</body>", INJECTED + "</body>")
            route.fulfill(response=served, body=body)

        page.route(re.compile(r"^http://127\.0\.0\.1:\d+/(#.*)?$"), tamper)
        page.goto(f"{url}/#token={issue_local_token(db, 'US', ['read'])}")
        page.wait_for_selector("#who[data-party=US]")
        page.wait_for_function(
            "() => document.querySelectorAll('.leaflet-countries-pane path').length > 100"
        )
        assert watched.pwned() is None, f"injected script ran: {watched.pwned()!r}"
        refused = watched.violations()
        assert any(v.startswith("script-src-elem: inline") for v in refused), refused
        assert any(v.startswith("script-src-attr: inline") for v in refused), refused


def _map_html(folder: Path, collection: dict[str, Any], title: str) -> Path:
    from deconflict.demo.htmlmap import write_html_map

    return write_html_map(folder, collection, title)


def test_the_demo_map_shows_a_hostile_scenario_as_text(browser: Browser, tmp_path: Path) -> None:
    """security.md §6: map.html, opened from disk, with hostile text in every field of its
    scenario and its title: shown as text, nothing runs, and its own inlined scripts keep to its
    policy (no violation: the map draws)."""
    collection = hostile_map("demo")
    page_file = _map_html(tmp_path, collection, hostile("demo.title"))
    with watched_page(browser, "file://") as watched:
        page = watched.page
        page.goto(page_file.as_uri())
        page.wait_for_function(
            "() => document.querySelectorAll('.leaflet-countries-pane path').length > 100"
        )
        page.evaluate(f"window.deconflictView.setTime({MIDDLE_S * 1000})")
        regions = {k: v for k, v in SHOWN.items() if k not in ("#who", "#inbox")}
        _assert_regions(page, "demo", regions)
        assert hostile("demo.title") in (page.locator("#title").text_content() or "")
        assert page.title().startswith(hostile("demo.title")), "the title is text, not markup"
        assert page.locator(MADE).count() == 0, "hostile text made elements"
        watched.assert_nothing_ran()
        assert watched.violations() == [], "map.html keeps to its own policy"
        screenshot(page, "hostile-map-html")


def test_the_demo_map_runs_only_its_own_scripts(browser: Browser, tmp_path: Path) -> None:
    """security.md §6: map.html carries a Content-Security-Policy (a meta element: a file has no
    headers) that allows its own inlined scripts by hash and nothing else: a script added to
    the file does not run."""
    page_file = _map_html(tmp_path, hostile_map("demo"), "demo")
    html = page_file.read_text(encoding="utf-8")
    assert re.search(r'<meta http-equiv="Content-Security-Policy"', html)
    tampered = tmp_path / "tampered.html"
    tampered.write_text(
        html.replace("</body>", "<script>window.__pwned='added'</script></body>"), encoding="utf-8"
    )
    with watched_page(browser, "file://") as watched:
        page = watched.page
        page.goto(tampered.as_uri())
        page.wait_for_function(
            "() => document.querySelectorAll('.leaflet-countries-pane path').length > 100"
        )
        assert watched.pwned() is None, "a script not in the page's policy ran"
        assert any(v.startswith("script-src-elem") for v in watched.violations())


#: Everywhere script in the page could find the token: cookies, storage, the address, history,
#: the navigation and resource timing entries, the DOM and its inputs, and every value reachable
#: from the window's own properties (the view's state included).
FIND_TOKEN = """(token) => {
  const found = [];
  const seen = new WeakSet();
  let budget = 300000;
  const has = (where, v) => { if (typeof v === "string" && v.includes(token)) found.push(where); };
  const walk = (where, v, depth) => {
    if (budget-- <= 0 || depth > 8) return;
    if (typeof v === "string") { has(where, v); return; }
    if (!v || (typeof v !== "object" && typeof v !== "function")) return;
    if (v instanceof Node || v === window || seen.has(v)) return;
    seen.add(v);
    let keys = [];
    try { keys = Object.keys(v); } catch (_) { return; }
    if (v instanceof Map) v.forEach((item, key) => walk(`${where}.get(${key})`, item, depth + 1));
    for (const key of keys) {
      let item;
      try { item = v[key]; } catch (_) { continue; }
      walk(`${where}.${key}`, item, depth + 1);
    }
  };
  has("document.cookie", document.cookie);
  const stores = [["localStorage", localStorage], ["sessionStorage", sessionStorage]];
  for (const [name, store] of stores) {
    for (let i = 0; i < store.length; i++) {
      has(`${name} key`, store.key(i));
      has(`${name}[${store.key(i)}]`, store.getItem(store.key(i)));
    }
  }
  has("location", location.href);
  has("document.URL", document.URL);
  has("document.referrer", document.referrer);
  has("history.state", JSON.stringify(history.state));
  if (window.navigation) navigation.entries().forEach((e) => has("navigation entry", e.url));
  performance.getEntries().forEach((e) => has(`performance ${e.entryType}`, e.name));
  has("DOM", document.documentElement.outerHTML);
  document.querySelectorAll("input, textarea").forEach((i) => has(`input #${i.id}`, i.value));
  for (const name of Object.getOwnPropertyNames(window)) {
    if (name === "__findToken") continue;
    let v;
    try { v = window[name]; } catch (_) { continue; }
    if (typeof v === "function" && !Object.keys(v).length) continue;
    walk(`window.${name}`, v, 0);
  }
  return found;
}"""


def _heap_holds(page: Page, token: str) -> bool:
    """Whether the page's JavaScript heap holds ``token`` anywhere, after a full collection."""
    session = page.context.new_cdp_session(page)
    chunks: list[str] = []
    session.on("HeapProfiler.addHeapSnapshotChunk", lambda event: chunks.append(event["chunk"]))
    session.send("HeapProfiler.enable")
    session.send("HeapProfiler.collectGarbage")
    session.send("HeapProfiler.takeHeapSnapshot", {"reportProgress": False})
    session.detach()
    return token in "".join(chunks)


@pytest.mark.parametrize("how", ["link", "form"])
def test_script_in_the_page_cannot_read_the_token(
    browser: Browser, hub: HostileHub, how: str
) -> None:
    """security.md §6: once signed in (by the link `serve --links` prints, or by pasting the
    token), nothing script in the page can reach holds the token: not a cookie it can read, not
    storage, the address, history or timing entries, the DOM, any value reachable from the
    window, nor the JavaScript heap at all; yet the view works (the session is an HttpOnly
    cookie)."""
    url, db = hub.url, hub.db
    token = issue_local_token(db, "US", ["read", "ack"])
    with watched_page(browser, url) as watched:
        page = watched.page
        if how == "link":
            page.goto(f"{url}/#token={token}")
        else:
            page.goto(f"{url}/")
            page.locator("#token").fill(token)
            page.locator("#token").press("Enter")
        page.wait_for_selector("#who[data-party=US]")
        page.wait_for_selector("#inbox [data-notification]", timeout=20_000)
        assert page.evaluate(FIND_TOKEN, token) == []
        assert not _heap_holds(page, token), "the page's heap still holds the token"
        cookies = page.context.cookies()
        assert [c["httpOnly"] for c in cookies if token in c["value"]] == [True]
        watched.assert_nothing_ran()


#: Every way to put a string into the page as markup, each tried with hostile text; and making
#: a Trusted Types policy of one's own.
SINKS = """() => {
  const bad = "<img src=x onerror=\\"window.__pwned='sink'\\">";
  const host = document.createElement("div");
  document.body.append(host);
  const tries = {
    innerHTML: () => { host.innerHTML = bad; },
    outerHTML: () => { host.append(document.createElement("p")); host.lastChild.outerHTML = bad; },
    insertAdjacentHTML: () => host.insertAdjacentHTML("beforeend", bad),
    createContextualFragment: () => document.createRange().createContextualFragment(bad),
    srcdoc: () => { const f = document.createElement("iframe"); f.srcdoc = bad; },
    createPolicy: () => trustedTypes.createPolicy("mine", { createHTML: (s) => s }),
  };
  const out = {};
  for (const [name, attempt] of Object.entries(tries)) {
    try { attempt(); out[name] = "done"; } catch (e) { out[name] = e.name; }
  }
  host.remove();
  return out;
}"""


def test_no_html_sink_takes_a_string(browser: Browser, hub: HostileHub, tmp_path: Path) -> None:
    """security.md §6: should some code of the view ever put a string into the page as markup
    (innerHTML, outerHTML, insertAdjacentHTML, a range's fragment, a frame's srcdoc), the
    browser refuses it (Trusted Types: the view's one policy passes only Leaflet's own strings),
    and no other policy can be made to pass it; in the served page and in map.html alike."""
    url, db = hub.url, hub.db
    page_file = _map_html(tmp_path, hostile_map("demo"), "demo")
    for where in (f"{url}/#token={issue_local_token(db, 'US', ['read'])}", page_file.as_uri()):
        with watched_page(browser, url if where.startswith("http") else "file://") as watched:
            page = watched.page
            page.goto(where)
            if where.startswith("http"):
                # Signing in with the fragment's token loads the page afresh: probe that page.
                page.wait_for_selector("#who[data-party=US]")
            page.wait_for_function(
                "() => document.querySelectorAll('.leaflet-countries-pane path').length > 100"
            )
            outcome = page.evaluate(SINKS)
            assert outcome == dict.fromkeys(outcome, "TypeError"), (where, outcome)
            assert watched.pwned() is None
            assert page.locator(".leaflet-control-zoom-in").count() == 1, "Leaflet's own still work"


def test_a_page_that_showed_others_text_never_takes_a_token(
    browser: Browser, hub: HostileHub
) -> None:
    """security.md §6: while signed in, the page has no field to paste a token into; signing
    out, or the session ending, starts a new page (nothing of the old one, which showed other
    parties' text, is left to see the next token), and the cookie is gone."""
    url, db = hub.url, hub.db
    with watched_page(browser, url) as watched:
        page = watched.page
        page.goto(f"{url}/#token={issue_local_token(db, 'US', ['read', 'ack'])}")
        page.wait_for_selector("#who[data-party=US]")
        assert page.locator("#token").is_hidden()
        page.evaluate("() => { window.__oldPage = true; }")
        page.locator("#signout-button").click()
        page.wait_for_selector("#who:not([data-party])")
        page.wait_for_function("() => !window.__oldPage")
        assert page.locator("#token").is_visible()
        assert page.context.cookies() == []
        # A session that ends under the page (its cookie gone, as when its token expires).
        page.goto(f"{url}/#token={issue_local_token(db, 'US', ['read', 'ack'])}")
        page.wait_for_selector("#who[data-party=US]")
        page.evaluate("() => { window.__oldPage = true; }")
        page.context.clear_cookies()
        page.evaluate("() => window.deconflictView.reload().catch(() => {})")
        page.wait_for_function("() => !window.__oldPage")
        page.wait_for_selector("#message:not([hidden])")
        assert "session has ended" in page.locator("#message").inner_text()
        assert page.url == f"{url}/"
        assert page.locator("#token").is_visible()
        watched.assert_nothing_ran()
