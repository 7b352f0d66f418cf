// The explorer page: reads the controls, keeps the URL in step, asks the server to
// compute, and hands the JSON to the views. Every number shown comes from the server.
import { DEFAULTS, PARAMS, RANGES, bump, dimsOf, firstRow, parseQuery, toQuery } from "./state.js";
import { Highlighter, Links } from "./links.js";
import * as V from "./views.js";

const $ = (id) => document.getElementById(id);
const FIELDS = PARAMS; // one control per URL parameter, with the same id
const VIEW_NAMES = ["summary", "scatter", "gather", "matrix", "sizes", "artifacts", "step", "code"];

const ui = { stepMode: "output", stepPos: 0, playing: false, transpose: false, codeTab: "pytorch", scatterPiece: null, links: null };
let data = null; // the last good response
let seq = 0;
let timer = null;
let playTimer = null;
let hoverKey = null;
let presets = [];
const views = $("views");
const hl = new Highlighter(views);

// ---------------------------------------------------------------- controls <-> state

function fill(state) {
  for (const p of FIELDS) $(p).value = state[p] ?? "";
  $("dims").value = String(dimsOf(state.x));
}

function read() {
  const s = {};
  for (const p of FIELDS) s[p] = $(p).value.trim();
  return s;
}

/** Write the state into the URL (and the share link); no history entry per keystroke. */
function setURL(query) {
  history.replaceState(null, "", `${location.pathname}?${query}`);
  $("share").href = `${location.pathname}?${query}`;
  $("print-query").textContent = query;
}

function changed(delay = 250) {
  const state = read();
  setURL(toQuery(state));
  $("dims").value = String(dimsOf(state.x));
  clearTimeout(timer);
  timer = setTimeout(compute, delay);
}

// ---------------------------------------------------------------- server

function setStatus(s) {
  document.body.dataset.status = s;
}

function clearErrors() {
  for (const el of document.querySelectorAll(".err")) el.textContent = "";
  for (const el of document.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

function showError(field, message) {
  clearErrors();
  const target = field && $(`err-${field}`) ? field : null;
  $(target ? `err-${target}` : "err-general").textContent = message;
  if (target && $(target)) $(target).setAttribute("aria-invalid", "true");
  if (target) {
    $("err-general").textContent = `Not computed: see ${target}.` + (data ? " The views show the last valid layer." : "");
  }
}

async function compute() {
  const mine = ++seq;
  const query = toQuery(read());
  setStatus("loading");
  let resp;
  let body = null;
  try {
    resp = await fetch(`/api/compute?${query}`, { cache: "no-store" });
    body = await resp.json();
  } catch (err) {
    if (mine !== seq) return;
    showError(null, `The tconv server did not answer (${err.message}). Is tconv explore still running?`);
    setStatus("error");
    return;
  }
  if (mine !== seq) return;
  if (!resp.ok || !body || body.error) {
    showError(body && body.field, (body && body.error) || `HTTP ${resp.status}`);
    setStatus("error");
    return;
  }
  clearErrors();
  data = body;
  render();
  setStatus("ok");
  document.body.dataset.query = query;
  document.body.dataset.renders = String(+document.body.dataset.renders + 1);
}

// ---------------------------------------------------------------- drawing

function section(name) {
  return views.querySelector(`[data-view="${name}"] .body`);
}

const stepHandlers = {
  mode: (m) => {
    ui.stepMode = m;
    ui.stepPos = 0;
    redraw("step");
    $("step-mode").focus();
  },
  go: (p) => goStep(p),
  play: () => togglePlay(),
};

const MAKERS = {
  summary: () => V.summary(data),
  scatter: () => V.scatter(data, ui),
  gather: () => V.gather(data, ui),
  matrix: () => V.matrix(data, ui, (t) => {
    ui.transpose = t;
    redraw("matrix");
    $("matrix-transpose").focus();
  }),
  sizes: () => V.sizes(data),
  artifacts: () => V.artifacts(data),
  step: () => V.step(data, ui, stepHandlers),
  code: () => V.code(data, ui, (k) => {
    ui.codeTab = k;
    redraw("code");
    $(`code-tab-${k}`).focus();
  }),
};

/** Draw every view from the last good data. */
function render() {
  if (!data) return;
  ui.links = new Links(data);
  for (const name of VIEW_NAMES) section(name).replaceChildren(...MAKERS[name]().filter(Boolean));
  relink();
}

/** Redraw one view (a UI-only change: step, transpose, tab, scatter piece). */
function redraw(name) {
  if (!data) return;
  section(name).replaceChildren(...MAKERS[name]().filter(Boolean));
  relink();
}

function relink() {
  hl.reindex();
  const canvasWrap = views.querySelector(".matrix-wrap");
  if (canvasWrap) hl.listeners.push((cls, ex) => { if (cls === "lit") canvasWrap.drawBands(ex); });
  showStep();
  if (hoverKey && !hl.index.has(hoverKey)) hoverKey = null;
  hl.show("lit", hoverKey ? ui.links.expand(hoverKey) : null);
  if (!hoverKey && canvasWrap) canvasWrap.drawBands(ui.links.expand(currentStepKey()));
}

function currentStepKey() {
  const items = V.stepItems(data, ui.stepMode);
  const pos = Math.min(Math.max(0, ui.stepPos), items.length - 1);
  const [a, b] = items[pos];
  return `${ui.stepMode === "tap" ? "t" : "o"}:${a},${b}`;
}

/** Mark the current step (class "cur") in every view, and place the gather window. */
function showStep() {
  hl.show("cur", ui.links.expand(currentStepKey()));
  placeWindow();
}

/** The gather window follows the hovered output, else the stepped one. */
function placeWindow() {
  const key = hoverKey && hoverKey.startsWith("o:") ? hoverKey : ui.stepMode === "output" ? currentStepKey() : "o:0,0";
  const [r, c] = key.slice(2).split(",").map(Number);
  V.placeWindow(views.querySelector('[data-view="gather"]'), data, r, c, (k) => hl.index.get(k) || []);
}

// ---------------------------------------------------------------- hover and focus

function hover(key) {
  if (!data || key === hoverKey) return;
  hoverKey = key;
  if (key && key.startsWith("i:") && data.dims === 2 && ui.scatterPiece !== key.slice(2)) {
    ui.scatterPiece = key.slice(2);
    redraw("scatter");
    return;
  }
  hl.show("lit", key ? ui.links.expand(key) : null);
  placeWindow();
}

views.addEventListener("mouseover", (ev) => {
  const el = ev.target.closest("[data-hover]");
  if (el) hover(el.dataset.hover);
});
views.addEventListener("mousemove", (ev) => {
  if (ev.target.matches("canvas[data-hover]")) hover(ev.target.dataset.hover);
});
views.addEventListener("mouseleave", () => hover(null));
views.addEventListener("focusin", (ev) => {
  const el = ev.target.closest("[data-hover]");
  if (el) hover(el.dataset.hover);
});
views.addEventListener("focusout", (ev) => {
  if (!ev.relatedTarget || !views.contains(ev.relatedTarget)) hover(null);
});

// ---------------------------------------------------------------- step-through

function goStep(p) {
  const n = V.stepItems(data, ui.stepMode).length;
  ui.stepPos = ((p % n) + n) % n;
  const hadFocus = document.activeElement && document.activeElement.id;
  redraw("step");
  if (hadFocus && $(hadFocus)) $(hadFocus).focus();
}

function togglePlay() {
  ui.playing = !ui.playing;
  clearInterval(playTimer);
  if (ui.playing) playTimer = setInterval(() => goStep(ui.stepPos + 1), 700);
  const hadFocus = document.activeElement && document.activeElement.id;
  redraw("step");
  if (hadFocus && $(hadFocus)) $(hadFocus).focus();
}

views.querySelector('[data-view="step"]').addEventListener("keydown", (ev) => {
  if (!data || ev.target.matches("select, input[type=range]")) return;
  const n = V.stepItems(data, ui.stepMode).length;
  const keys = { ArrowRight: ui.stepPos + 1, ArrowDown: ui.stepPos + 1, ArrowLeft: ui.stepPos - 1, ArrowUp: ui.stepPos - 1, Home: 0, End: n - 1 };
  if (ev.key in keys) {
    ev.preventDefault();
    goStep(keys[ev.key]);
  } else if (ev.key === " " && !ev.target.matches("button")) {
    ev.preventDefault();
    togglePlay();
  }
});

// ---------------------------------------------------------------- number fields

function bumpField(id, delta) {
  const el = $(id);
  const [lo, hi] = RANGES[id];
  let text = el.value;
  if (text.trim() === "" && id === "output_size" && data) {
    // Start from the size the layer has now.
    text = data.dims === 1 ? String(data.y[0].length) : `${data.y.length},${data.y[0].length}`;
  }
  const caret = el === document.activeElement && el.selectionStart !== null ? el.selectionStart : text.length;
  const res = bump(text, caret, delta, lo, hi);
  if (!res) return;
  el.value = res.value;
  if (el === document.activeElement) el.setSelectionRange(res.caret, res.caret);
  changed(0);
}

for (const id of Object.keys(RANGES)) {
  $(id).addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowUp" || ev.key === "ArrowDown") {
      ev.preventDefault();
      bumpField(id, ev.key === "ArrowUp" ? 1 : -1);
    } else if (ev.key === "PageUp" || ev.key === "PageDown") {
      ev.preventDefault();
      bumpField(id, ev.key === "PageUp" ? 4 : -4);
    }
  });
}
for (const b of document.querySelectorAll("button.bump")) {
  b.addEventListener("click", () => bumpField(b.dataset.for, +b.dataset.delta));
}
for (const id of FIELDS) {
  const el = $(id);
  el.addEventListener(el.tagName === "SELECT" ? "change" : "input", () => changed(el.tagName === "SELECT" ? 0 : 300));
}
for (const id of ["x", "w"]) {
  // Enter recomputes at once in the value boxes (Shift+Enter for a new line is not needed).
  $(id).addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      ev.preventDefault();
      changed(0);
    }
  });
}

// ---------------------------------------------------------------- presets

async function getJSON(url) {
  const resp = await fetch(url, { cache: "no-store" });
  const body = await resp.json();
  if (!resp.ok) throw new Error((body && body.error) || `HTTP ${resp.status}`);
  return body;
}

function applyQuery(query, valuesOnly) {
  const p = parseQuery(query);
  const q = new URLSearchParams(query);
  if (valuesOnly || !q.has("op")) {
    $("x").value = p.x;
    $("w").value = p.w;
  } else {
    fill({ ...DEFAULTS, ...p });
  }
  changed(0);
}

async function loadPresets() {
  try {
    presets = (await getJSON("/api/presets")).presets || [];
  } catch (err) {
    $("err-general").textContent = `Presets unavailable: ${err.message}`;
    return;
  }
  const sel = $("preset");
  presets.forEach((p, i) => sel.append(new Option(p.name, String(i))));
}

$("preset").addEventListener("change", (ev) => {
  const p = presets[+ev.target.value];
  if (p) applyQuery(p.query, false);
});

async function randomValues(dims, seed) {
  const body = await getJSON(`/api/presets?random=${seed}&dims=${dims}`);
  return body.query || (body.presets && body.presets[0] && body.presets[0].query);
}

$("random").addEventListener("click", async () => {
  const seed = Math.floor(Math.random() * 10000);
  try {
    applyQuery(await randomValues(dimsOf($("x").value), seed), true);
  } catch (err) {
    showError(null, `Random values failed: ${err.message}`);
  }
});

$("dims").addEventListener("change", async (ev) => {
  const want = +ev.target.value;
  if (want === dimsOf($("x").value)) return;
  if (want === 1) {
    $("x").value = firstRow($("x").value);
    $("w").value = firstRow($("w").value);
    changed(0);
    return;
  }
  const two = presets.find((p) => dimsOf(parseQuery(p.query).x) === 2);
  try {
    applyQuery(two ? two.query : await randomValues(2, 0), true);
  } catch (err) {
    showError(null, `2-D values failed: ${err.message}`);
  }
});

// ---------------------------------------------------------------- start

fill(parseQuery(location.search));
setURL(toQuery(read()));
loadPresets();
compute();
