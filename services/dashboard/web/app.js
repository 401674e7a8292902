// wake dashboard: tables from /api/tables, events from /api/events, live updates
// from /api/stream (server-sent events), logs from /api/logs, and the timeline
// slider that asks every table for its state at a past log sequence.
"use strict";

const TABLES = ["namespaces", "nodes", "deployments", "pods", "services", "endpoints"];
const CLUSTER_SCOPED = new Set(["namespaces", "nodes"]);
const EVENT_COLUMNS = ["SEQ", "TIME", "ACTOR", "TYPE", "OBJECT", "REASON"];
const MAX_EVENTS = 200;

// Counts page loads in this tab: it stays 1 while the page updates itself.
sessionStorage.wakeLoads = String(Number(sessionStorage.wakeLoads || 0) + 1);
document.body.dataset.loads = sessionStorage.wakeLoads;

const state = {
  namespace: new URLSearchParams(location.search).get("namespace") || "",
  at: 0,           // 0: live; otherwise the log sequence shown
  lastSeq: 0,      // newest sequence seen
  stream: null,
  logs: null,
  pending: new Set(),
  timer: null,
  errors: new Map(), // source -> message
};

const $ = (id) => document.getElementById(id);

function showError(source, message) {
  if (message) state.errors.set(source, message); else state.errors.delete(source);
  const box = $("error");
  box.textContent = [...state.errors.values()].join("\n");
  box.hidden = state.errors.size === 0;
}

// getJSON fetches url; a request that fails to reach the server (a dropped
// connection) is tried again after 0.2, 0.4 and 0.8 s before the page says the
// server is unreachable.
async function getJSON(url, source) {
  let resp;
  for (let attempt = 0; ; attempt++) {
    try {
      resp = await fetch(url, { cache: "no-store" });
      break;
    } catch (e) {
      if (attempt < 3) {
        await new Promise((done) => setTimeout(done, 200 << attempt));
        continue;
      }
      showError(source, `${source}: the dashboard server is unreachable (${e.message})`);
      throw e;
    }
  }
  if (!resp.ok) {
    const text = (await resp.text()).trim();
    showError(source, `${source}: ${resp.status} ${resp.statusText}: ${text}`);
    throw new Error(text);
  }
  showError(source, "");
  return resp.json();
}

function params(extra, namespaced = true) {
  const p = new URLSearchParams(extra || {});
  if (state.namespace && namespaced) p.set("namespace", state.namespace);
  if (state.at) p.set("at", String(state.at));
  return p.toString();
}

function cellClass(col, text) {
  return (col === "STATUS") ? text.replace(/[^A-Za-z]/g, "") : "";
}

function renderTable(id, columns, rows, cellsOf, onRow) {
  const table = $(id).querySelector("table");
  table.replaceChildren();
  const head = table.createTHead().insertRow();
  for (const c of columns) { const th = document.createElement("th"); th.textContent = c; head.appendChild(th); }
  const body = table.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    cellsOf(row).forEach((cell, i) => {
      const td = tr.insertCell();
      if (cell instanceof Node) td.appendChild(cell); else td.textContent = cell;
      const cls = cellClass(columns[i], String(cell));
      if (cls) td.className = cls;
    });
    if (row.name !== undefined) { tr.dataset.name = row.name; tr.dataset.namespace = row.namespace || ""; }
    if (onRow) tr.addEventListener("click", () => onRow(row));
  }
  if (rows.length === 0) {
    const td = body.insertRow().insertCell();
    td.colSpan = columns.length;
    td.className = "empty";
    td.textContent = "No resources found";
  }
  $(id).querySelector(".count").textContent = `(${rows.length})`;
}

function rolloutBar(r) {
  const wrap = document.createElement("span");
  const outer = document.createElement("span");
  outer.className = "bar-outer";
  const pct = (n) => r.desired > 0 ? Math.min(100, 100 * n / r.desired) + "%" : "100%";
  const updated = document.createElement("span"); updated.className = "bar-updated"; updated.style.width = pct(r.updated);
  const ready = document.createElement("span"); ready.className = "bar-ready"; ready.style.width = pct(r.ready);
  outer.append(updated, ready);
  wrap.append(outer, `${r.ready}/${r.desired} ready, ${r.updated} updated, ${r.available} available`);
  return wrap;
}

async function loadTable(resource) {
  const t = await getJSON(`api/tables/${resource}?${params({}, !CLUSTER_SCOPED.has(resource))}`, resource);
  let columns = t.columns, cellsOf = (r) => r.cells;
  if (resource === "deployments") {
    columns = [...t.columns, "ROLLOUT"];
    cellsOf = (r) => [...r.cells, rolloutBar(r.rollout)];
  }
  renderTable(resource, columns, t.rows, cellsOf, resource === "pods" ? openLogs : null);
  if (resource === "namespaces") fillNamespaces(t.rows.map((r) => r.name));
}

function fillNamespaces(names) {
  const sel = $("namespace");
  const want = new Set(names);
  if (state.namespace) want.add(state.namespace);
  const have = [...sel.options].slice(1).map((o) => o.value);
  if (have.join() === [...want].sort().join()) return;
  sel.replaceChildren(sel.options[0]);
  for (const n of [...want].sort()) sel.add(new Option(n, n));
  sel.value = state.namespace;
}

function eventCells(e) {
  const obj = `${e.kind}/${e.namespace ? e.namespace + "/" : ""}${e.name}${e.node ? " @" + e.node : ""}`;
  const type = e.rejected ? `${e.type} (rejected: ${e.rejected})` : e.type;
  return [String(e.seq), new Date(e.time).toLocaleTimeString(), e.actor, type, obj, e.reason || ""];
}

let shownEvents = [];
function renderEvents() {
  renderTable("events", EVENT_COLUMNS, shownEvents, eventCells);
}

async function loadEvents() {
  const list = await getJSON(`api/events?${params({ limit: String(MAX_EVENTS) })}`, "events");
  shownEvents = list.events;
  renderEvents();
  if (state.at) {
    const e = list.events[0];
    $("moment").textContent = `sequence ${state.at}` + (e ? ` · ${new Date(e.time).toLocaleString()}` : "");
  }
}

async function loadAll() {
  await Promise.allSettled([...TABLES.map(loadTable), loadEvents()]);
}

// Debounced refresh of what an event changed.
function refreshSoon(resource) {
  if (!TABLES.includes(resource)) return;
  state.pending.add(resource);
  clearTimeout(state.timer);
  state.timer = setTimeout(() => {
    const todo = [...state.pending];
    state.pending.clear();
    if (!state.at) todo.forEach((r) => loadTable(r).catch(() => {}));
  }, 150);
}

function setStatus(cls, text) {
  const s = $("status");
  s.className = "status " + cls;
  s.textContent = text;
}

function openStream() {
  if (state.stream) state.stream.close();
  const p = new URLSearchParams();
  if (state.namespace) p.set("namespace", state.namespace);
  const es = new EventSource(`api/stream?${p}`);
  state.stream = es;
  es.addEventListener("hello", (m) => {
    const seq = JSON.parse(m.data).seq;
    state.lastSeq = Math.max(state.lastSeq, seq);
    showError("stream", "");
    if (!state.at) setStatus("live", "live");
  });
  es.addEventListener("failure", (m) => showError("stream", "live updates: " + m.data));
  es.onmessage = (m) => {
    const e = JSON.parse(m.data);
    state.lastSeq = Math.max(state.lastSeq, e.seq);
    updateSlider();
    if (state.at) return;
    shownEvents.unshift(e);
    shownEvents.length = Math.min(shownEvents.length, MAX_EVENTS);
    renderEvents();
    refreshSoon(e.resource);
  };
  es.onerror = () => {
    setStatus("down", "disconnected");
    showError("stream", "live updates lost: the dashboard server is unreachable; retrying…");
  };
}

function updateSlider() {
  const s = $("slider");
  s.max = String(Math.max(state.lastSeq, 1));
  if (!state.at) s.value = s.max;
}

async function loadTimeline() {
  const t = await getJSON("api/timeline", "timeline");
  $("slider").min = String(Math.max(t.firstSeq, 1));
  state.lastSeq = Math.max(state.lastSeq, t.lastSeq);
  updateSlider();
}

function goLive() {
  state.at = 0;
  $("live").disabled = true;
  $("moment").textContent = "live";
  setStatus("live", "live");
  updateSlider();
  loadAll();
}

function travel(seq) {
  if (seq >= state.lastSeq) { goLive(); return; }
  state.at = seq;
  $("live").disabled = false;
  setStatus("past", "past");
  $("moment").textContent = `sequence ${seq}`;
  loadAll();
}

// Logs of one pod, followed by default.
function openLogs(row) {
  closeLogs();
  $("logs").hidden = false;
  $("logs-title").textContent = `logs of pod ${row.namespace}/${row.name}`;
  const text = $("logs-text");
  text.replaceChildren();
  const p = new URLSearchParams({ namespace: row.namespace, pod: row.name, tail: "500", follow: String($("logs-follow").checked) });
  const es = new EventSource(`api/logs?${p}`);
  state.logs = es;
  const note = (cls, msg) => { const s = document.createElement("span"); s.className = cls; s.textContent = msg + "\n"; text.appendChild(s); };
  es.onmessage = (m) => {
    const atEnd = text.scrollTop + text.clientHeight >= text.scrollHeight - 4;
    text.append(JSON.parse(m.data));
    if (atEnd) text.scrollTop = text.scrollHeight;
  };
  es.addEventListener("failure", (m) => { note("failure", m.data); es.close(); });
  es.addEventListener("end", () => { note("end", "— end of log —"); es.close(); });
  es.onerror = () => { if (es.readyState !== EventSource.CLOSED) { note("failure", "the log stream broke off"); es.close(); } };
}

function closeLogs() {
  if (state.logs) state.logs.close();
  state.logs = null;
  $("logs").hidden = true;
}

function init() {
  $("namespace").value = state.namespace;
  $("namespace").addEventListener("change", (e) => {
    state.namespace = e.target.value;
    const u = new URL(location.href);
    if (state.namespace) u.searchParams.set("namespace", state.namespace); else u.searchParams.delete("namespace");
    history.replaceState(null, "", u);
    openStream();
    loadAll();
  });
  let slideTimer = null;
  $("slider").addEventListener("input", (e) => {
    clearTimeout(slideTimer);
    const seq = Number(e.target.value);
    $("moment").textContent = `sequence ${seq}`;
    slideTimer = setTimeout(() => travel(seq), 200);
  });
  $("live").addEventListener("click", goLive);
  $("logs-close").addEventListener("click", closeLogs);
  openStream();
  loadTimeline().catch(() => {});
  loadAll();
  // Ages grow without events.
  setInterval(() => { if (!state.at) TABLES.forEach((r) => loadTable(r).catch(() => {})); }, 30000);
}

init();
