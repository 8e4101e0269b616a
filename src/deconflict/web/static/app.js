/* The operations view: volumes and conflicts on a Leaflet map, a UTC time slider, and an inbox.
 *
 * Served by `deconflict serve` it asks the API as the signed-in party (GET /v1/map, the
 * notifications and their event stream), so it shows only what that party may see. Written into
 * the demo's map.html it reads the scenario from the page's JSON data block
 * (#deconflict-data: {map, countries, title}) and has no inbox. Plain JavaScript, no build step;
 * Leaflet draws the map; topojson-client reads the Natural Earth outlines.
 *
 * Every string the API gives was written by some party, possibly a hostile one: it is only ever
 * text. Nothing here parses markup: elements are built with the DOM, API strings go in through
 * textContent (each in a <bdi>, so a right-to-left override stays inside it), tooltips are DOM
 * elements (Leaflet reads a string as HTML), styles are set through element.style, and classes
 * come from fixed lists, never from data. The page runs under a Content-Security-Policy that
 * allows its own files only, and Trusted Types make any HTML sink throw (trusted-types.js).
 *
 * The token a party signs in with is sent to the hub once (POST /v1/session), which keeps it in
 * an HttpOnly cookie script cannot read; then the page loads afresh, so no trace of the token is
 * left in its memory, its storage or its address. Requests go with that cookie (and, when they
 * change something, the X-Deconflict-CSRF header the hub asks of a cookie request).
 */
(function () {
  "use strict";

  const DATA = document.getElementById("deconflict-data");
  const STATIC = DATA ? JSON.parse(DATA.textContent) : null;
  const KNOWN = new Map([["RU", "#d95f02"], ["US", "#1f78b4"], ["FR", "#7b3294"], ["CAOC", "#666666"]]);
  const CYCLE = ["#1b9e77", "#e6ab02", "#a6761d", "#66a61e", "#e7298a", "#386cb0"];
  const CONFLICT = "#e31a1c";
  const RESOLVED = "#667085";
  const ESCALATED = "#f79009";
  const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const TICK_MS = 100;
  const CLIP = 1000; // characters of one API string shown (all of it in the element's title)
  // The values the page gives classes and styles for; anything else is "other".
  const ALERTS = new Set(["pending", "delivered", "acknowledged", "escalated"]);
  const KINDS = new Set(["notice", "plan", "conflict"]);
  const CONFLICT_STATES = new Set(["open", "resolved"]);
  const CSRF = { "X-Deconflict-CSRF": "1" };

  const $ = (id) => document.getElementById(id);
  const state = {
    party: null, now: null, span: [0, 1], t: 0, skipped: 0,
    volumes: [], conflicts: [], colours: new Map(), notifications: new Map(),
    playing: null, stream: null, lastEvent: null, refresh: null, retry: null,
  };

  // text, never markup ---------------------------------------------------------------------
  const str = (value) => (value === null || value === undefined ? "" : String(value));
  const list = (value) => (Array.isArray(value) ? value : []);
  const known = (value, names) => (names.has(value) ? value : "other");

  // An API string as text: a <bdi> holding it (clipped to CLIP characters, all of it in title).
  function text(value) {
    const whole = str(value);
    const node = document.createElement("bdi");
    node.textContent = whole.length > CLIP ? `${whole.slice(0, CLIP)}…` : whole;
    if (whole.length > CLIP) node.title = whole;
    return node;
  }

  // An element of the page's own making: `parts` are nodes (API strings made by text()) or the
  // page's own words (strings, appended as text).
  function make(tag, className, ...parts) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    node.append(...parts.filter((part) => part !== null && part !== undefined && part !== ""));
    return node;
  }

  // API strings joined by the page's own separator, each as text.
  function joined(values, separator) {
    const parts = [];
    values.forEach((value, i) => { if (i) parts.push(separator); parts.push(text(value)); });
    return parts;
  }

  // time, as people say it (as deconflict.timefmt) ------------------------------------
  const pad = (n) => String(n).padStart(2, "0");
  function clock(ms) {
    const d = new Date(ms);
    return `${DAYS[d.getUTCDay()]} ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ` +
      `${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}Z`;
  }
  function duration(seconds) {
    const span = Math.abs(seconds);
    if (Math.round(span) < 60) return `${Math.round(span)} s`;
    const minutes = Math.round(span / 60);
    if (minutes * 60 < 86400) {
      const h = Math.floor(minutes / 60), m = minutes % 60;
      return h === 0 ? `${m} min` : (m === 0 ? `${h} h` : `${h} h ${m} min`);
    }
    const hours = Math.round(span / 3600), d = Math.floor(hours / 24), h = hours % 24;
    return h === 0 ? `${d} d` : `${d} d ${h} h`;
  }
  function relative(startMs, endMs, tMs) {
    if (tMs < startMs) return `starts in ${duration((startMs - tMs) / 1000)}`;
    if (tMs < endMs) return `active, ends in ${duration((endMs - tMs) / 1000)}`;
    return `ended ${duration((tMs - endMs) / 1000)} ago`;
  }
  const ms = (value) => (typeof value === "string" ? Date.parse(value) : NaN);
  // An API time as people say it, or (not a time) as the text it is.
  const when = (value) => (Number.isFinite(ms(value)) ? clock(ms(value)) : text(value));
  const metres = (m) => `${Math.round(Number(m)).toLocaleString("en-GB")} m`;

  function message(words) {
    const box = $("message");
    box.textContent = words || "";
    box.hidden = !words;
  }

  // the map --------------------------------------------------------------------------------
  // Leaflet's own attribution control writes its text as HTML: the credit is made here instead.
  const map = L.map("map", { zoomSnap: 0.25, worldCopyJump: false, keyboard: true, attributionControl: false })
    .setView([34, 38], 5);
  const Credit = L.Control.extend({
    options: { position: "bottomright" },
    onAdd: () => make("div", "leaflet-control-attribution leaflet-control",
      "Leaflet | Countries: Natural Earth, via world-atlas"),
  });
  new Credit().addTo(map);
  const countryPane = map.createPane("countries");
  countryPane.style.zIndex = 250;
  const volumeLayer = L.layerGroup().addTo(map);
  const conflictLayer = L.layerGroup().addTo(map);

  function drawCountries(topology) {
    L.geoJSON(topojson.feature(topology, topology.objects.countries), {
      pane: "countries", interactive: false,
      style: { color: "#8a96a8", weight: 0.8, fillColor: "#f4f1ea", fillOpacity: 1 },
    }).addTo(map);
  }

  function colour(party) {
    if (!state.colours.has(party)) {
      const spare = [...state.colours.keys()].filter((p) => !KNOWN.has(p)).length;
      state.colours.set(party, KNOWN.get(party) || CYCLE[spare % CYCLE.length]);
    }
    return state.colours.get(party);
  }

  // A volume's tooltip, as an element (Leaflet would read a string as HTML).
  function volumeTip(p) {
    const what = p.kind === "plan"
      ? [" plan ", text(p.owner), " (private)"]
      : [" notice ", text(p.owner), ...(p.category ? [", ", text(p.category)] : [])];
    const alert = p.alert ? ["; your alert: ", text(p.alert)] : [];
    const span = p.window ? text(p.window) : `${clock(ms(p.start))} to ${clock(ms(p.end))}`;
    return make("div", "vol-tip",
      make("strong", "", text(p.party), " · ", text(p.id)),
      make("span", "", ...what, ...alert),
      make("span", "", `Altitude ${metres(p.lower_m)} to ${metres(p.upper_m)} (WGS84)`),
      make("span", "", span, " (UTC)"));
  }

  function conflictTip(p) {
    return make("div", "vol-tip",
      make("strong", "", "Conflict ", ...joined(list(p.parties), " x ")),
      make("span", "", text(p.window), " (UTC)"),
      make("span", "", "told ", text(p.lead_time)));
  }

  function tag(layer, attributes) {
    layer.on("add", () => layer.eachLayer((path) => {
      const node = path.getElement && path.getElement();
      if (node) Object.entries(attributes).forEach(([k, v]) => node.setAttribute(`data-${k}`, str(v)));
    }));
  }

  function load(collection) {
    volumeLayer.clearLayers();
    conflictLayer.clearLayers();
    state.volumes = [];
    state.conflicts = [];
    state.skipped = 0;
    state.now = Number.isFinite(ms(collection.now)) ? ms(collection.now) : null;
    let low = Infinity, high = -Infinity;
    list(collection.features).forEach((f) => {
      const p = (f && f.properties) || {};
      const start = ms(p.start), end = ms(p.end);
      if (!Number.isFinite(start) || !Number.isFinite(end)) { state.skipped += 1; return; }
      low = Math.min(low, start); high = Math.max(high, end);
      const alert = p.alert ? known(p.alert, ALERTS) : null;
      if (p.kind === "conflict") {
        const open = (p.state || p.status || "open") === "open";
        const settled = !open || alert === "acknowledged";
        const hue = open ? CONFLICT : RESOLVED;
        const layer = f.geometry ? L.geoJSON(f, {
          className: `conflict-area${alert ? ` alert-${alert}` : ""}${open ? "" : " resolved"}`,
          style: { color: hue, weight: settled ? 2 : 4, fillColor: hue,
            fillOpacity: settled ? 0.25 : 0.45, dashArray: settled ? null : "6 4" },
        }) : null;
        if (layer) {
          layer.bindTooltip(() => conflictTip(p), { sticky: true });
          tag(layer, { id: p.id, kind: "conflict", alert: p.alert || "none" });
        }
        state.conflicts.push({ feature: f, layer, start, end, item: null });
      } else {
        const kind = known(p.kind, KINDS);
        const c = colour(str(p.party));
        const escalated = alert === "escalated";
        const layer = L.geoJSON(f, {
          className: `vol kind-${kind}${alert ? ` alert-${alert}` : ""}`,
          style: { color: escalated ? ESCALATED : c, weight: escalated ? 4 : 2, fillColor: c,
            fillOpacity: 0.18, dashArray: kind === "plan" ? "5 5" : (escalated ? "10 5" : null) },
        });
        layer.bindTooltip(() => volumeTip(p), { sticky: true });
        tag(layer, { id: p.id, party: p.party, kind: p.kind, owner: p.owner, alert: p.alert || "none" });
        state.volumes.push({ feature: f, layer, start, end });
      }
    });
    if (!isFinite(low)) { const t = state.now || Date.now(); low = t - 3600e3; high = t + 3600e3; }
    state.span = [low, high];
    const slider = $("time");
    slider.min = String(Math.floor(low / 1000));
    slider.max = String(Math.ceil(high / 1000));
    legend();
    listConflicts();
    const inSpan = state.now !== null && state.now >= low && state.now <= high;
    const first = state.conflicts.map((c) => c.start).sort((a, b) => a - b)[0];
    setTime(inSpan ? state.now : (first !== undefined ? first : low));
    markNow();
    const bounds = L.latLngBounds([]);
    state.volumes.forEach((v) => bounds.extend(v.layer.getBounds()));
    if (bounds.isValid()) map.fitBounds(bounds, { padding: [20, 20], animate: false });
  }

  function swatch(hue) {
    const node = make("span", "swatch");
    node.style.background = hue;
    return node;
  }

  function legend() {
    const items = [...state.colours.entries()].map(([party, hue]) => make("li", "", swatch(hue), text(party)));
    items.push(make("li", "", swatch(CONFLICT), "open conflict"));
    items.push(make("li", "", swatch(RESOLVED), "resolved conflict"));
    items.push(make("li", "", swatch(ESCALATED), "alert escalated (not acknowledged in time)"));
    items.push(make("li", "", "dashed outline: your private plan"));
    $("legend").replaceChildren(...items);
  }

  function markNow() {
    const mark = $("now-mark");
    const [low, high] = state.span;
    if (state.now === null || state.now < low || state.now > high) { mark.hidden = true; return; }
    mark.hidden = false;
    mark.style.left = `${((state.now - low) / (high - low)) * 100}%`;
    mark.title = `now: ${clock(state.now)}`;
  }

  // time -----------------------------------------------------------------------------------
  function setTime(t) {
    const [low, high] = state.span;
    state.t = Math.min(Math.max(t, low), high);
    $("time").value = String(Math.round(state.t / 1000));
    render();
  }

  function render() {
    const t = state.t;
    let shown = 0, active = 0;
    state.volumes.forEach((v) => {
      const on = v.start <= t && t < v.end;
      if (on !== volumeLayer.hasLayer(v.layer)) on ? volumeLayer.addLayer(v.layer) : volumeLayer.removeLayer(v.layer);
      if (on) shown += 1;
    });
    state.conflicts.forEach((c) => {
      const on = c.start <= t && t < c.end;
      if (c.layer && on !== conflictLayer.hasLayer(c.layer)) on ? conflictLayer.addLayer(c.layer) : conflictLayer.removeLayer(c.layer);
      if (on) active += 1;
      if (c.item) {
        c.item.classList.toggle("active", on);
        c.item.querySelector(".when").textContent = relative(c.start, c.end, t);
      }
    });
    const nowNote = state.now === null ? "" : (Math.abs(state.now - t) < 60e3 ? " (now)" : "");
    $("time-label").textContent = `Time (UTC): ${clock(t)}${nowNote}`;
    $("time").setAttribute("aria-valuetext", `${clock(t)} UTC`);
    const counts = $("counts");
    const skipped = state.skipped ? `; ${state.skipped} not drawn (no valid time)` : "";
    counts.textContent = `${shown} volume(s), ${active} conflict(s) at this time${skipped}`;
    counts.dataset.volumes = String(shown);
    counts.dataset.conflicts = String(active);
  }

  function play(on) {
    if (state.playing) { clearInterval(state.playing); state.playing = null; }
    if (on) {
      if (state.t >= state.span[1]) setTime(state.span[0]);
      state.playing = setInterval(() => {
        const step = Number($("speed").value) * TICK_MS;
        setTime(state.t + step);
        if (state.t >= state.span[1]) play(false);
      }, TICK_MS);
    }
    $("play").textContent = on ? "Pause" : "Play";
    $("play").setAttribute("aria-pressed", String(Boolean(on)));
  }

  $("time").addEventListener("input", (e) => setTime(Number(e.target.value) * 1000));
  $("play").addEventListener("click", () => play(!state.playing));
  $("now").addEventListener("click", () => setTime(state.now !== null ? state.now : Date.now()));

  // conflicts ------------------------------------------------------------------------------
  function listConflicts() {
    $("conflict-count").textContent = String(state.conflicts.length);
    const items = state.conflicts.map((c) => {
      const p = c.feature.properties;
      const status = p.state || p.status || "open";
      const alert = p.alert ? known(p.alert, ALERTS) : null;
      const button = make("button", `conflict ${known(status, CONFLICT_STATES)}${alert ? ` alert-${alert}` : ""}`);
      button.type = "button";
      button.dataset.conflict = str(p.id);
      button.dataset.alert = p.alert ? str(p.alert) : "none";
      const volumes = list(p.volumes);
      const hidden = volumes.some((v) => v === null) ? " (other side not disclosed)" : "";
      const suggestion = list(p.suggestion);
      const advice = suggestion.length
        ? make("span", "note", "Adjust: ", ...joined(suggestion, "; or "))
        : (p.cleared_by ? make("span", "note", "Cleared: ", text(p.cleared_by)) : null);
      button.append(
        make("strong", "", ...joined(list(p.parties), " x "), " · ", text(status)),
        make("span", "note", ...joined(volumes.filter((v) => v !== null), " x "), hidden),
        make("span", "note", text(p.window), " (UTC)"),
        make("span", "note when"),
        make("span", "note", "Lead time: told ", text(p.lead_time)),
        p.more_pairs === true ? make("span", "note more", "These records meet in more pairs than are listed: clear these to see the next") : "",
        p.alert ? make("span", "note alert", "Your alert: ", text(p.alert)) : "",
        advice || "");
      button.addEventListener("click", () => zoomTo(c));
      c.item = button;
      return make("li", "", button);
    });
    $("conflicts").replaceChildren(...items);
  }

  function zoomTo(c) {
    if (!(c.start <= state.t && state.t < c.end)) setTime(c.start);
    const bounds = c.layer ? c.layer.getBounds() : null;
    if (bounds && bounds.isValid()) {
      map.fitBounds(bounds, { padding: [60, 60], maxZoom: 10, animate: false });
    }
  }

  // the hub (served view only) ---------------------------------------------------------------
  const PARTY_READS = new Set(["/v1/map", "/v1/notifications", "/v1/conflicts"]);
  class ApiFailure extends Error {
    constructor(status, detail) { super(detail); this.status = status; }
  }

  // A request with the session cookie; one that changes something carries the CSRF header.
  async function api(path, options) {
    const method = (options && options.method) || "GET";
    const headers = { Accept: "application/json", ...((options && options.headers) || {}) };
    if (method !== "GET") Object.assign(headers, CSRF);
    const response = await fetch(path, {
      ...(options || {}), method, headers, credentials: "same-origin", cache: "no-store",
    });
    if (!response.ok) {
      let detail = `${response.status}`;
      try { detail = str((await response.json()).detail) || detail; } catch (_) { /* not JSON */ }
      if (response.status === 401 && state.party !== null) ended();
      throw new ApiFailure(response.status, detail);
    }
    // A read made before the hub checked this party's latest filings says so (docs/api.md,
    // "Detection pending"); the next read that does not clears it (other answers say nothing).
    if (method === "GET" && PARTY_READS.has(path.split("?")[0])) {
      $("detection").hidden = response.headers.get("Deconflict-Detection") !== "pending";
    }
    return response.status === 204 ? null : response.json();
  }

  // the inbox ------------------------------------------------------------------------------
  const RANK = new Map([["escalated", 0], ["pending", 1], ["delivered", 1], ["acknowledged", 2]]);
  const rank = (n) => (RANK.has(n.state) ? RANK.get(n.state) : 1);

  function renderInbox() {
    // What still needs an answer first (escalated before pending), then the newest first.
    const items = [...state.notifications.values()].sort((a, b) =>
      rank(a) - rank(b) || (ms(b.created_at) || 0) - (ms(a.created_at) || 0));
    $("inbox-count").textContent = String(items.filter((n) => n.state !== "acknowledged").length);
    $("inbox-status").textContent = items.length ? "" : "No notifications.";
    $("inbox").replaceChildren(...items.map((n) => {
      const status = known(n.state, ALERTS);
      const li = make("li", `notification ${status}`);
      li.dataset.notification = str(n.id);
      li.dataset.state = str(n.state);
      const about = n.kind === "conflict" ? n.conflict_id : n.notice_id;
      const what = [n.kind === "conflict" ? "conflict " : "notice ", about ? text(about) : "(not disclosed)"];
      const badge = make("span", `badge ${status}`, n.state === "escalated" ? "ESCALATED" : text(n.state));
      li.append(badge, " ", make("strong", "", text(n.kind)), ": ", ...what,
        ...(n.via ? [" via ", text(n.via)] : []),
        make("span", "note muted", "at ", when(n.created_at), " UTC; acknowledge by ",
          when(n.ack_deadline), " UTC"));
      if (n.recipient === state.party && n.state !== "acknowledged") {
        const button = make("button", "ack", "Acknowledge");
        button.type = "button";
        button.setAttribute("aria-label", `Acknowledge ${what[0]}${about ? str(about) : "(not disclosed)"}`);
        button.addEventListener("click", () => acknowledge(n.id, button));
        li.append(" ", button);
      }
      return li;
    }));
  }

  function keep(n) {
    if (!n || typeof n !== "object" || typeof n.id !== "string") return false;
    const before = state.notifications.get(n.id);
    if (!before || before.state !== "acknowledged") state.notifications.set(n.id, n);
    return !before;
  }

  async function acknowledge(id, button) {
    button.disabled = true;
    try {
      const done = await api(`/v1/notifications/${encodeURIComponent(id)}/ack`, { method: "POST" });
      if (done && typeof done.id === "string") state.notifications.set(done.id, done);
      renderInbox();
      await loadMap(true);  // the map marks what is acknowledged
    } catch (error) {
      button.disabled = false;
      message(`Could not acknowledge: ${error.message}`);
    }
  }

  const PAGE = 1000; // notifications per request; the hub pages its list

  async function refreshNotifications() {
    // Page after page, oldest first (the hub answers at most PAGE at a time).
    let after = null;
    for (;;) {
      const query = `limit=${PAGE}` + (after ? `&after=${encodeURIComponent(after)}` : "");
      const page = list(await api(`/v1/notifications?${query}`));
      page.forEach((n) => { if (n && typeof n.id === "string") state.notifications.set(n.id, n); });
      if (page.length) after = str(page[page.length - 1].id);
      if (page.length < PAGE) break;
    }
    renderInbox();
  }

  // The event stream, with the session cookie (same origin); it resumes by itself after a cut,
  // and after a refusal (the session ended, the hub restarting) the session is asked again.
  function listen() {
    const url = state.lastEvent ? `/v1/events?after=${encodeURIComponent(state.lastEvent)}` : "/v1/events";
    const source = new EventSource(url);
    state.stream = source;
    source.addEventListener("notification", (event) => {
      let n;
      try { n = JSON.parse(event.data); } catch (_) { return; }
      if (event.lastEventId) state.lastEvent = event.lastEventId;
      const fresh = keep(n);
      renderInbox();
      if (fresh || (n && n.kind === "conflict")) scheduleMapReload();
    });
    source.addEventListener("error", () => {
      if (source.readyState !== EventSource.CLOSED || state.stream !== source) return;
      clearTimeout(state.retry);
      state.retry = setTimeout(() => {
        if (state.stream !== source) return;
        api("/v1/session").then(listen, (error) => {
          if (error.status !== 401) state.retry = setTimeout(listen, 5000);
        });
      }, 2000);
    });
  }

  let reloadTimer = null;
  function scheduleMapReload() {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(() => { loadMap(true).catch(() => {}); }, 1500);
  }

  async function loadMap(keepTime) {
    const collection = await api("/v1/map");
    // The time is read once the picture is here: a play tick or a slider move made while it
    // was on its way must not be undone.
    const t = state.t;
    load(collection);
    if (keepTime) setTime(t);
  }

  // A page that has shown what parties wrote never takes a token: signing in, signing out and
  // the end of a session each start the page afresh.
  const afresh = (note) => window.location.replace(window.location.pathname + (note ? `?${note}` : ""));

  // The token goes to the hub once, which keeps it in an HttpOnly cookie; the page then loads
  // afresh, so nothing of the token stays in this page's memory.
  async function signIn(token) {
    try {
      await api("/v1/session", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token }),
      });
    } catch (error) {
      message(`Sign-in failed: ${error.message}`);
      return;
    }
    afresh();
  }

  // The page as the session's party sees it (the cookie says who), or signed out.
  async function resume() {
    let who;
    try {
      who = await api("/v1/session");
    } catch (error) {
      if (error.status !== 401) message(`The hub did not answer: ${error.message}`);
      return;
    }
    state.party = str(who.party);
    $("who").replaceChildren("Signed in as ", text(state.party));
    $("who").dataset.party = state.party;
    $("who").title = `Signed in as ${state.party}`;
    $("signout-button").hidden = false;
    $("signin-fields").hidden = true;
    $("inbox-status").textContent = "Loading notifications...";
    try {
      await loadMap(false);
    } catch (error) {
      message(`The map did not load: ${error.message}`);
    }
    refreshNotifications().catch((error) => message(`Notifications: ${error.message}`));
    listen();
    state.refresh = setInterval(() => refreshNotifications().catch(() => {}), 30000);
  }

  function stop() {
    if (state.stream) state.stream.close();
    clearInterval(state.refresh);
    clearTimeout(state.retry);
    state.stream = null; state.refresh = null; state.retry = null;
  }

  // The hub no longer takes the session (the token expired): start afresh, saying so.
  function ended() {
    stop();
    state.party = null;
    afresh("ended");
  }

  async function signOut() {
    try {
      await api("/v1/session", { method: "DELETE" });
    } catch (error) {
      message(`Sign-out failed: ${error.message}`);
      return;
    }
    stop();
    afresh();
  }

  // start ----------------------------------------------------------------------------------
  if (STATIC) {
    const title = str(STATIC.title);
    if (title) {
      document.title = `${title}: map`;
      $("title").replaceChildren(text(title));
    }
    $("signin").hidden = true;
    $("inbox-section").hidden = true;
    if (STATIC.countries) drawCountries(STATIC.countries);
    load(STATIC.map || {});
  } else {
    fetch("/vendor/world-atlas/countries.json")
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
      .then(drawCountries)
      .catch(() => message("Country outlines are not installed (run make setup)."));
    $("signin").addEventListener("submit", (e) => {
      e.preventDefault();
      const input = $("token");
      const token = input.value.trim();
      input.value = "";
      if (token) signIn(token);
    });
    $("signout-button").addEventListener("click", () => signOut());
    load({ type: "FeatureCollection", features: [] });
    // `deconflict serve --links` prints links with the token in the fragment (#token=...),
    // which browsers never send to the server; it leaves the address at once.
    const fragment = new URLSearchParams(window.location.hash.slice(1)).get("token");
    if (new URLSearchParams(window.location.search).has("ended")) {
      message("The session has ended: sign in again.");
    }
    if (window.location.hash || window.location.search) {
      history.replaceState(null, "", window.location.pathname);
    }
    if (fragment) signIn(fragment); else resume();
    // A link opened in a tab already on this page changes only the fragment: load it afresh.
    window.addEventListener("hashchange", () => {
      if (new URLSearchParams(window.location.hash.slice(1)).has("token")) window.location.reload();
    });
  }
  window.deconflictView = { state, setTime, map, reload: () => loadMap(true) };
})();
