// Small DOM helpers: elements, value cells and grids. Drawing only, no arithmetic on values.

/** Create an element: h("div", {class: "a", dataset: {...}}, child, "text", ...). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A number as short as it can be: 3, -1.5, 0.25 (as tconv tour's figures print them). */
export function fmt(v) {
  if (typeof v !== "number" || !Number.isFinite(v)) return String(v);
  if (Math.abs(v - Math.round(v)) < 1e-9) return String(Math.round(v) === 0 ? 0 : Math.round(v));
  return v.toFixed(2).replace(/0+$/, "").replace(/\.$/, "");
}

/** An index as the page writes it: [2] in 1-D, [1,2] in 2-D. */
export function idx(dims, r, c) {
  return dims === 1 ? `[${c}]` : `[${r},${c}]`;
}

/**
 * One cell. `role` and (r, c) go to data attributes (tests read them), `v` to data-v
 * (full precision) and, formatted, to the text. `keys` are the link keys the highlighter
 * lights; `hover` is the key this cell lights when hovered or focused.
 */
export function cell({ v, role, r, c, keys, hover, cls, text, title }) {
  const el = document.createElement("span");
  el.className = "cell" + (cls ? " " + cls : "");
  if (role) el.dataset.role = role;
  if (r !== undefined) el.dataset.r = String(r);
  if (c !== undefined) el.dataset.c = String(c);
  if (v !== undefined && v !== null) el.dataset.v = String(v);
  if (keys && keys.length) el.dataset.keys = keys.join(" ");
  if (hover) el.dataset.hover = hover;
  if (title) el.title = title;
  el.textContent = text !== undefined ? text : v === undefined || v === null ? "" : fmt(v);
  return el;
}

/** A blank placeholder cell (keeps columns aligned). */
export function blank(cls = "") {
  const el = document.createElement("span");
  el.className = "cell blank" + (cls ? " " + cls : "");
  return el;
}

/**
 * A CSS grid of `rows` x `cols` cells made by `make(r, c)` (null = blank). `nav`
 * makes it one Tab stop whose arrow keys move between cells (a roving tabindex).
 */
export function grid(rows, cols, make, { cls = "", nav = false, label = "" } = {}) {
  const g = document.createElement("div");
  g.className = "grid" + (cls ? " " + cls : "") + (cols > 24 || rows > 24 ? " small" : "");
  g.style.gridTemplateColumns = `repeat(${cols}, var(--cell))`;
  if (label) g.setAttribute("aria-label", label);
  if (nav) g.setAttribute("role", "group");
  let first = true;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const el = make(r, c) || blank();
      if (nav && !el.classList.contains("blank")) {
        el.tabIndex = first ? 0 : -1;
        if (el.title) el.setAttribute("aria-label", el.title);
        el.dataset.gr = String(r);
        el.dataset.gc = String(c);
        first = false;
      }
      g.append(el);
    }
  }
  if (nav) g.addEventListener("keydown", navKey);
  return g;
}

function navKey(ev) {
  const from = ev.target.closest(".cell");
  if (!from || from.dataset.gr === undefined) return;
  const moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
  let r = +from.dataset.gr;
  let c = +from.dataset.gc;
  const g = ev.currentTarget;
  let to = null;
  if (ev.key in moves) {
    const [dr, dc] = moves[ev.key];
    to = g.querySelector(`[data-gr="${r + dr}"][data-gc="${c + dc}"]`);
  } else if (ev.key === "Home") {
    to = g.querySelector("[data-gr]");
  } else if (ev.key === "End") {
    const all = g.querySelectorAll("[data-gr]");
    to = all[all.length - 1];
  } else return;
  ev.preventDefault();
  if (!to) return;
  from.tabIndex = -1;
  to.tabIndex = 0;
  to.focus();
}

/** Colour of t in [0, 1] on a cividis-like ramp (tconv tour's colour map), and a text colour. */
const CIVIDIS = [
  [0, 34, 78], [53, 69, 108], [102, 105, 112], [148, 142, 119], [200, 184, 102], [254, 232, 56],
];
export function heat(t) {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (CIVIDIS.length - 1);
  const i = Math.min(CIVIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const rgb = CIVIDIS[i].map((a, j) => Math.round(a + (CIVIDIS[i + 1][j] - a) * f));
  return { bg: `rgb(${rgb.join(",")})`, fg: x / (CIVIDIS.length - 1) > 0.55 ? "#222" : "#fff" };
}
