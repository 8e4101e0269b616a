/* The operations view: volumes and conflicts on a Leaflet map, a UTC time slider, and an inbox.
 *
 * Served by `deconflict serve` it asks the API as the signed-in party (GET /v1/map, the
 * notifications and their event stream), so it shows only what that party may see. Written into
 * the demo's map.html it reads window.DECONFLICT_DATA instead ({map, countries, title}) and has
 * no inbox. Plain JavaScript, no build step; Leaflet draws
 * the map; topojson-client reads the Natural Earth outlines.
 */
(function () {
  "use strict";

  const STATIC = window.DECONFLICT_DATA || null;
  const KNOWN = { RU: "#d95f02", US: "#1f78b4", FR: "#7b3294", CAOC: "#666666" };
  const CYCLE = ["#1b9e77", "#e6ab02", "#a6761d", "#66a61e", "#e7298a", "#386cb0"];
  const CONFLICT = "#e31a1c";
  const RESOLVED = "#667085";
  const ESCALATED = "#f79009";
  const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const TICK_MS = 100;

  const $ = (id) => document.getElementById(id);
  const state = {
    token: null, party: null, now: null, span: [0, 1], t: 0,
    volumes: [], conflicts: [], colours: {}, notifications: new Map(),
    playing: null, stream: null, refresh: null,
  };

  // time, as people say it (as deconflict.demo.timefmt) ------------------------------------
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
  const ms = (text) => Date.parse(text);
  const metres = (m) => `${Math.round(m).toLocaleString("en-GB")} m`;

  function message(text) {
    const box = $("message");
    box.textContent = text || "";
    box.hidden = !text;
  }

  // the map --------------------------------------------------------------------------------
  const map = L.map("map", { zoomSnap: 0.25, worldCopyJump: false, keyboard: true })
    .setView([34, 38], 5);
  map.attributionControl.setPrefix("Leaflet");
  map.attributionControl.addAttribution("Countries: Natural Earth, via world-atlas");
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
    if (!state.colours[party]) {
      const spare = Object.keys(state.colours).filter((p) => !KNOWN[p]).length;
      state.colours[party] = KNOWN[party] || CYCLE[spare % CYCLE.length];
    }
    return state.colours[party];
  }

  function tooltip(p) {
    const what = (p.kind === "plan" ? `plan ${p.owner} (private)` : `notice ${p.owner}` +
      (p.category ? `, ${p.category}` : "")) + (p.alert ? `; your alert: ${p.alert}` : "");
    return `<div class="vol-tip"><strong>${p.party} · ${p.id}</strong>${what}<br>` +
      `Altitude ${metres(p.lower_m)} to ${metres(p.upper_m)} (WGS84)<br>` +
      `${p.window || `${clock(ms(p.start))} to ${clock(ms(p.end))}`} (UTC)</div>`;
  }

  function tag(layer, attributes) {
    layer.on("add", () => layer.eachLayer((path) => {
      const el = path.getElement && path.getElement();
      if (el) Object.entries(attributes).forEach(([k, v]) => el.setAttribute(`data-${k}`, v));
    }));
  }

  function load(collection) {
    volumeLayer.clearLayers();
    conflictLayer.clearLayers();
    state.volumes = [];
    state.conflicts = [];
    state.now = collection.now ? ms(collection.now) : null;
    let low = Infinity, high = -Infinity;
    collection.features.forEach((f) => {
      const p = f.properties;
      const start = ms(p.start), end = ms(p.end);
      low = Math.min(low, start); high = Math.max(high, end);
      if (p.kind === "conflict") {
        const open = (p.state || p.status || "open") === "open";
        const settled = !open || p.alert === "acknowledged";
        const hue = open ? CONFLICT : RESOLVED;
        const layer = f.geometry ? L.geoJSON(f, {
          className: `conflict-area${p.alert ? ` alert-${p.alert}` : ""}${open ? "" : " resolved"}`,
          style: { color: hue, weight: settled ? 2 : 4, fillColor: hue,
            fillOpacity: settled ? 0.25 : 0.45, dashArray: settled ? null : "6 4" },
        }) : null;
        if (layer) {
          layer.bindTooltip(`<strong>Conflict ${p.parties.join(" x ")}</strong>` +
            `${p.window} (UTC)<br>told ${p.lead_time}`, { sticky: true });
          tag(layer, { id: p.id, kind: "conflict", alert: p.alert || "none" });
        }
        state.conflicts.push({ feature: f, layer, start, end });
      } else {
        const c = colour(p.party);
        const escalated = p.alert === "escalated";
        const layer = L.geoJSON(f, {
          className: `vol kind-${p.kind}${p.alert ? ` alert-${p.alert}` : ""}`,
          style: { color: escalated ? ESCALATED : c, weight: escalated ? 4 : 2, fillColor: c,
            fillOpacity: 0.18, dashArray: p.kind === "plan" ? "5 5" : (escalated ? "10 5" : null) },
        });
        layer.bindTooltip(tooltip(p), { sticky: true });
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

  function legend() {
    const list = $("legend");
    list.replaceChildren();
    Object.entries(state.colours).forEach(([party, c]) => {
      const li = document.createElement("li");
      li.innerHTML = `<span class="swatch" style="background:${c}"></span>${party}`;
      list.append(li);
    });
    const li = document.createElement("li");
    li.innerHTML = `<span class="swatch" style="background:${CONFLICT}"></span>open conflict`;
    list.append(li);
    [[RESOLVED, "resolved conflict"], [ESCALATED, "alert escalated (not acknowledged in time)"]]
      .forEach(([hue, text]) => {
        const item = document.createElement("li");
        item.innerHTML = `<span class="swatch" style="background:${hue}"></span>${text}`;
        list.append(item);
      });
    const dashed = document.createElement("li");
    dashed.textContent = "dashed outline: your private plan";
    list.append(dashed);
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
      const item = document.querySelector(`[data-conflict="${c.feature.properties.id}"]`);
      if (item) {
        item.classList.toggle("active", on);
        item.querySelector(".when").textContent = relative(c.start, c.end, t);
      }
    });
    const nowNote = state.now === null ? "" : (Math.abs(state.now - t) < 60e3 ? " (now)" : "");
    $("time-label").textContent = `Time (UTC): ${clock(t)}${nowNote}`;
    $("time").setAttribute("aria-valuetext", `${clock(t)} UTC`);
    const counts = $("counts");
    counts.textContent = `${shown} volume(s), ${active} conflict(s) at this time`;
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
    const list = $("conflicts");
    list.replaceChildren();
    $("conflict-count").textContent = String(state.conflicts.length);
    state.conflicts.forEach((c) => {
      const p = c.feature.properties;
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = `conflict ${p.state || p.status || ""}${p.alert ? ` alert-${p.alert}` : ""}`;
      button.dataset.conflict = p.id;
      button.dataset.alert = p.alert || "none";
      const hidden = p.volumes && p.volumes.some((v) => v === null) ? " (other side not disclosed)" : "";
      const suggestion = (p.suggestion || []).length
        ? `Adjust: ${p.suggestion.join("; or ")}` : (p.cleared_by ? `Cleared: ${p.cleared_by}` : "");
      button.innerHTML =
        `<strong>${p.parties.join(" x ")} · ${p.state || p.status || "open"}</strong>` +
        `<span class="note">${(p.volumes || []).filter(Boolean).join(" x ")}${hidden}</span>` +
        `<span class="note">${p.window} (UTC)</span>` +
        `<span class="note when"></span>` +
        `<span class="note">Lead time: told ${p.lead_time}</span>` +
        (p.alert ? `<span class="note alert">Your alert: ${p.alert}</span>` : "") +
        (suggestion ? `<span class="note">${suggestion}</span>` : "");
      button.addEventListener("click", () => zoomTo(c));
      li.append(button);
      list.append(li);
    });
  }

  function zoomTo(c) {
    if (!(c.start <= state.t && state.t < c.end)) setTime(c.start);
    const bounds = c.layer ? c.layer.getBounds() : null;
    if (bounds && bounds.isValid()) {
      map.fitBounds(bounds, { padding: [60, 60], maxZoom: 10, animate: false });
    }
  }

  // the inbox (served view only) ------------------------------------------------------------
  async function api(path, options) {
    const response = await fetch(path, {
      ...(options || {}),
      headers: { Authorization: `Bearer ${state.token}`, ...((options || {}).headers || {}) },
    });
    if (!response.ok) {
      let detail = `${response.status}`;
      try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
      throw new Error(detail);
    }
    return response.json();
  }

  function renderInbox() {
    const list = $("inbox");
    list.replaceChildren();
    // What still needs an answer first (escalated before pending), then the newest first.
    const rank = { escalated: 0, pending: 1, delivered: 1, acknowledged: 2 };
    const items = [...state.notifications.values()].sort((a, b) =>
      (rank[a.state] ?? 1) - (rank[b.state] ?? 1) || ms(b.created_at) - ms(a.created_at));
    $("inbox-count").textContent = String(items.filter((n) => n.state !== "acknowledged").length);
    $("inbox-status").textContent = items.length ? "" : "No notifications.";
    items.forEach((n) => {
      const li = document.createElement("li");
      li.className = `notification ${n.state}`;
      li.dataset.notification = n.id;
      li.dataset.state = n.state;
      const what = n.kind === "conflict" ? `conflict ${n.conflict_id}` : `notice ${n.notice_id || "(not disclosed)"}`;
      const badge = `<span class="badge ${n.state}">${n.state === "escalated" ? "ESCALATED" : n.state}</span>`;
      li.innerHTML = `${badge} <strong>${n.kind}</strong>: ${what}${n.via ? ` via ${n.via}` : ""}` +
        `<span class="note muted">at ${clock(ms(n.created_at))} UTC; acknowledge by ` +
        `${clock(ms(n.ack_deadline))} UTC</span>`;
      if (n.recipient === state.party && n.state !== "acknowledged") {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "ack";
        button.textContent = "Acknowledge";
        button.setAttribute("aria-label", `Acknowledge ${what}`);
        button.addEventListener("click", () => acknowledge(n.id, button));
        li.append(" ", button);
      }
      list.append(li);
    });
  }

  async function acknowledge(id, button) {
    button.disabled = true;
    try {
      const done = await api(`/v1/notifications/${encodeURIComponent(id)}/ack`, { method: "POST" });
      state.notifications.set(done.id, done);
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
      const page = await api(`/v1/notifications?${query}`);
      page.forEach((n) => state.notifications.set(n.id, n));
      if (page.length) after = page[page.length - 1].id;
      if (page.length < PAGE) break;
    }
    renderInbox();
  }

  async function listen(signal) {
    // EventSource cannot send the Authorization header: read the stream with fetch instead.
    let last = null;
    while (!signal.aborted) {
      try {
        const headers = { Authorization: `Bearer ${state.token}`, Accept: "text/event-stream" };
        if (last) headers["Last-Event-ID"] = last;  // resume after the last event seen
        const response = await fetch("/v1/events", { headers, signal });
        if (!response.ok) throw new Error(String(response.status));
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            let id = null, data = "";
            block.split("\n").forEach((line) => {
              if (line.startsWith("id: ")) id = line.slice(4);
              else if (line.startsWith("data: ")) data += line.slice(6);
            });
            if (data) {
              const n = JSON.parse(data);
              const known = state.notifications.get(n.id);
              if (!known || known.state !== "acknowledged") state.notifications.set(n.id, n);
              if (id) last = id;
              renderInbox();
              if (n.kind === "conflict" || !known) scheduleMapReload();
            }
          }
        }
      } catch (error) {
        if (signal.aborted) return;
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
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
    state.party = collection.party;
    load(collection);
    if (keepTime) setTime(t);
  }

  async function signIn(token) {
    signOut(false);
    state.token = token;
    try {
      await loadMap(false);
    } catch (error) {
      state.token = null;
      message(`Sign-in failed: ${error.message}`);
      return;
    }
    message("");
    sessionStorage.setItem("deconflict.token", token);
    $("who").textContent = `Signed in as ${state.party}`;
    $("who").dataset.party = state.party;
    $("signout-button").hidden = false;
    $("token").value = "";
    $("inbox-status").textContent = "Loading notifications...";
    refreshNotifications().catch((error) => message(`Notifications: ${error.message}`));
    const control = new AbortController();
    state.stream = control;
    listen(control.signal);
    state.refresh = setInterval(() => refreshNotifications().catch(() => {}), 30000);
  }

  function signOut(forget) {
    if (state.stream) state.stream.abort();
    if (state.refresh) clearInterval(state.refresh);
    state.stream = null; state.refresh = null; state.token = null; state.party = null;
    state.notifications.clear();
    if (forget) {
      sessionStorage.removeItem("deconflict.token");
      load({ type: "FeatureCollection", features: [] });
      renderInbox();
      $("inbox-status").textContent = "Sign in to see notifications.";
      $("who").textContent = "Not signed in";
      delete $("who").dataset.party;
      $("signout-button").hidden = true;
    }
  }

  // start ----------------------------------------------------------------------------------
  if (STATIC) {
    document.title = STATIC.title ? `${STATIC.title}: map` : document.title;
    if (STATIC.title) $("title").textContent = STATIC.title;
    $("signin").hidden = true;
    $("inbox-section").hidden = true;
    if (STATIC.countries) drawCountries(STATIC.countries);
    load(STATIC.map);
  } else {
    fetch("/vendor/world-atlas/countries.json")
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
      .then(drawCountries)
      .catch(() => message("Country outlines are not installed (run make setup)."));
    $("signin").addEventListener("submit", (e) => {
      e.preventDefault();
      const token = $("token").value.trim();
      if (token) signIn(token);
    });
    $("signout-button").addEventListener("click", () => signOut(true));
    load({ type: "FeatureCollection", features: [] });
    // `deconflict serve --links` prints links with the token in the fragment (#token=...),
    // which browsers never send to the server; it is moved to this tab's session storage.
    const fragment = new URLSearchParams(window.location.hash.slice(1)).get("token");
    if (fragment) history.replaceState(null, "", window.location.pathname);
    const saved = fragment || sessionStorage.getItem("deconflict.token");
    if (saved) signIn(saved);
  }
  window.deconflictView = { state, setTime, map, reload: () => loadMap(true) };
})();
