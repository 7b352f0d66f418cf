// The page's state is its URL: every control is one query parameter.
// This module only parses and writes text; the server checks and computes.

export const PARAMS = [
  "op", "x", "w", "stride", "padding", "dilation", "output_padding", "output_size", "convention",
];

// The lecture's third worked example (the server uses the same defaults).
export const DEFAULTS = {
  op: "conv_transpose",
  x: "2,3,0,-1",
  w: "1,2,-1",
  stride: "1",
  padding: "0",
  dilation: "1",
  output_padding: "0",
  output_size: "",
  convention: "pytorch",
};

// Limits of the arrow keys and +/- buttons (the server enforces the real caps).
export const RANGES = {
  stride: [1, 16],
  padding: [0, 16],
  dilation: [1, 16],
  output_padding: [0, 16],
  output_size: [1, 256],
};

/** Parse a query string ("?a=1&b=2") into a full state, defaults filled in. */
export function parseQuery(search) {
  const params = new URLSearchParams(search.startsWith("?") ? search.slice(1) : search);
  const state = { ...DEFAULTS };
  for (const name of PARAMS) {
    const v = params.get(name);
    if (v !== null) state[name] = v.trim();
  }
  return state;
}

// Keep , ; : readable in links (they are legal in a query string).
function enc(v) {
  return encodeURIComponent(v).replace(/%2C/gi, ",").replace(/%3B/gi, ";").replace(/%3A/gi, ":");
}

/** The query string of a state; empty parameters are left out. */
export function toQuery(state) {
  return PARAMS.filter((p) => state[p] !== undefined && String(state[p]).trim() !== "")
    .map((p) => `${p}=${enc(String(state[p]).trim())}`)
    .join("&");
}

/** 2 when the text has rows (a ';'), else 1. */
export function dimsOf(text) {
  return String(text).includes(";") ? 2 : 1;
}

/** The first row of a 2-D value text ("1,2;3,4" -> "1,2"). */
export function firstRow(text) {
  return String(text).split(";")[0].trim();
}

/**
 * Add `delta` to the integer under the caret (or the last one before it) of a text
 * such as "2", "1,2" or "1:2,0:1", clamped to [lo, hi]. Returns {value, caret} or
 * null when the text holds no integer (e.g. "same").
 */
export function bump(text, caret, delta, lo, hi) {
  const re = /-?\d+/g;
  const tokens = [];
  let m;
  while ((m = re.exec(text)) !== null) tokens.push({ start: m.index, end: m.index + m[0].length, v: m[0] });
  if (tokens.length === 0) return null;
  let t = tokens[0];
  for (const tok of tokens) if (tok.start <= caret) t = tok;
  const n = Math.min(hi, Math.max(lo, parseInt(t.v, 10) + delta));
  const s = String(n);
  return { value: text.slice(0, t.start) + s + text.slice(t.end), caret: t.start + s.length };
}
