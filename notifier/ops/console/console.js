// The notifier console: plain JS, no build step. Every value from the API is set as text, never as HTML
// (payloads carry prompts written by anyone). The token, when one is needed, stays in this tab's session.
"use strict";

const POLL_MS = 2000;
const state = { cursor: null, openEvent: null, openItem: null, timer: null };
const $ = (selector) => document.querySelector(selector);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "onclick") node.addEventListener("click", value);
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(child ?? ""));
  return node;
}

function when(epoch) {
  if (epoch === null || epoch === undefined) return "—";
  return new Date(epoch * 1000).toLocaleString(undefined, { hour12: false });
}

function badge(outcome) { return el("span", { class: `badge ${outcome || "unknown"}` }, outcome || "?"); }

function say(text) { $("#status").textContent = text; }

async function api(path, options = {}) {
  const headers = { "Accept": "application/json", ...(options.headers || {}) };
  const token = sessionStorage.getItem("notifier-token");
  if (token) headers["Authorization"] = `Bearer ${token}`;
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) {
    $("#token-form").hidden = false;
    throw new Error("this API wants a token");
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    throw new Error(`${response.status}: ${detail}`);
  }
  return body;
}

function filters() {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData($("#filters"))) {
    if (!value) continue;
    params.set(name, (name === "since" || name === "until") ? new Date(value).toISOString() : value);
  }
  return params;
}

function eventRow(event) {
  const sinks = el("td");
  for (const [name, last] of Object.entries(event.sinks)) sinks.append(el("span", { class: "sink" }, `${name} `), badge(last.outcome), " ");
  const item = el("a", { class: "item", onclick: (e) => { e.stopPropagation(); openItem(event.item_id); } }, event.item_id || "");
  return el("tr", { class: "event", "data-id": event.id, "data-outcome": event.outcome, onclick: () => openEvent(event.id) },
    el("td", {}, when(event.detected_at)), el("td", {}, event.type), el("td", {}, item),
    el("td", {}, event.account || ""), el("td", {}, badge(event.outcome)), sinks);
}

async function refreshEvents() {
  try {
    const page = await api(`/api/events?${filters()}`);
    const body = $("#events tbody");
    body.replaceChildren(...page.events.map(eventRow));
    if (!page.events.length) body.append(el("tr", {}, el("td", { colspan: "6" }, "no events match (yet)")));
    state.cursor = page.next_cursor;
    $("#more").hidden = page.next_cursor === null;
    say(`updated ${new Date().toLocaleTimeString(undefined, { hour12: false })}`);
  } catch (error) { say(error.message); }
}

async function more() {
  try {
    const params = filters();
    params.set("cursor", state.cursor);
    const page = await api(`/api/events?${params}`);
    $("#events tbody").append(...page.events.map(eventRow));
    state.cursor = page.next_cursor;
    $("#more").hidden = page.next_cursor === null;
  } catch (error) { say(error.message); }
}

async function openEvent(id) {
  state.openEvent = id;
  try {
    const event = await api(`/api/events/${encodeURIComponent(id)}`);
    $("#detail").hidden = false;
    $("#detail-id").textContent = event.id;
    $("#detail-summary").replaceChildren(`${event.type} of `, el("a", { class: "item", onclick: () => openItem(event.item_id) }, event.item_id || "?"),
      ` (${event.account || "no account"}), detected ${when(event.detected_at)} `, badge(event.outcome));
    const buttons = Object.keys(event.sinks).map((sink) =>
      el("button", { class: "replay", "data-sink": sink, onclick: () => replay(event.id, sink) }, `Replay to ${sink}`));
    $("#detail-replay").replaceChildren(...buttons);
    $("#attempts tbody").replaceChildren(...event.attempts.map((a) => el("tr", { class: `attempt ${a.outcome}` },
      el("td", {}, String(a.attempt)), el("td", {}, a.sink), el("td", {}, when(a.at)), el("td", {}, badge(a.outcome)),
      el("td", {}, a.status === null ? "—" : String(a.status)), el("td", {}, a.latency_ms === null ? "—" : `${a.latency_ms} ms`),
      el("td", {}, a.error ? `${a.error_class}: ${a.error}` : ""), el("td", {}, a.next_try_at ? when(a.next_try_at) : ""))));
    $("#payload").textContent = JSON.stringify(event.payload, null, 2);
  } catch (error) { say(error.message); }
}

async function openItem(itemId) {
  if (!itemId) return;
  state.openItem = itemId;
  try {
    const timeline = await api(`/api/items/${encodeURIComponent(itemId)}/timeline`);
    $("#timeline").hidden = false;
    $("#timeline-id").textContent = itemId;
    $("#timeline-list").replaceChildren(...timeline.events.map((e) =>
      el("li", {}, `${when(e.detected_at)} `, el("a", { class: "item", onclick: () => openEvent(e.id) }, e.type), " ", badge(e.outcome))));
  } catch (error) { say(error.message); }
}

async function act(question, path, body) {
  if (!window.confirm(question)) return null;
  try {
    const answer = await api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body ?? {}) });
    return answer;
  } catch (error) { say(error.message); return null; }
}

async function replay(eventId, sink) {
  const done = await act(`Send event ${eventId} to ${sink} again?`, `/api/events/${encodeURIComponent(eventId)}/replay`, { sink });
  if (done) say(done.how === "pending" ? `a delivery to ${sink} is already waiting` : `replay to ${sink} queued`);
}

async function recover(sink) {
  const hours = window.prompt(`Recover ${sink}: send again every delivery that failed for good in the last how many hours?`, "24");
  if (hours === null) return;
  const since = new Date(Date.now() - Number(hours) * 3600 * 1000).toISOString();
  const done = await act(`Send again every failed delivery to ${sink} since ${since}?`, `/api/sinks/${encodeURIComponent(sink)}/recover`, { since });
  if (done) say(`recover ${sink}: ${done.replayed.length} deliveries queued again`);
}

async function testSend(sink) {
  const done = await act(`Send a test event to ${sink}?`, `/api/sinks/${encodeURIComponent(sink)}/test`);
  if (done) say(`test event ${done.event_id} queued for ${sink}`);
}

async function refreshSinks() {
  try {
    const { sinks } = await api("/api/sinks");
    $("#sinks tbody").replaceChildren(...sinks.map((s) => el("tr", { class: "sink", "data-sink": s.name },
      el("td", {}, `${s.name} (${s.kind})`), el("td", {}, s.url),
      el("td", {}, s.circuit.state === "open" ? `open ${s.circuit.open_for_s} s` : "closed"),
      el("td", {}, s.rate_limit.blocked_for_s > 0 ? `waiting ${s.rate_limit.blocked_for_s} s` : (s.rate_limit.rate_per_s ? `${s.rate_limit.rate_per_s}/s` : "none")),
      el("td", {}, when(s.last_success_at)), el("td", { title: s.last_error || "" }, when(s.last_failure_at)),
      el("td", {}, String(s.failures_last_hour)), el("td", {}, String(s.failed)), el("td", {}, String(s.jobs_waiting)),
      el("td", {}, el("button", { onclick: () => recover(s.name) }, "Recover"), " ",
        el("button", { onclick: () => testSend(s.name) }, "Test send")))));
  } catch (error) { say(error.message); }
}

async function tick() {
  await refreshEvents();
  await refreshSinks();
  if (state.openEvent) await openEvent(state.openEvent);
  if (state.openItem) await openItem(state.openItem);
}

function start() {
  $("#filters").addEventListener("input", () => refreshEvents());
  $("#filters").addEventListener("reset", () => setTimeout(refreshEvents, 0));
  $("#filters").addEventListener("submit", (e) => { e.preventDefault(); refreshEvents(); });
  $("#more").addEventListener("click", more);
  $("#detail-close").addEventListener("click", () => { state.openEvent = null; $("#detail").hidden = true; });
  $("#timeline-close").addEventListener("click", () => { state.openItem = null; $("#timeline").hidden = true; });
  $("#token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem("notifier-token", $("#token").value.trim());
    $("#token").value = "";
    $("#token-form").hidden = true;
    tick();
  });
  document.addEventListener("visibilitychange", () => $("#live").classList.toggle("paused", document.hidden));
  tick();
  state.timer = setInterval(() => { if (!document.hidden) tick(); }, POLL_MS);
}

start();
