// Which inputs and taps each output sums, read from the API's `links`, and the
// highlighter that lights the same entities in every view.
//
// Keys: "o:r,c" an output, "i:r,c" an input, "t:r,c" a kernel tap, "m:ro,ci" a matrix
// entry (row = flat output, column = flat input), "mo:ro" / "mi:ci" a matrix row / column
// band, "p:ir,ic@fr,fc" a scatter piece cell, "pr:ir,ic" a scatter piece row,
// "f:fr,fc" a cell of the scatter sum before the crop.

export class Links {
  constructor(data) {
    this.dims = data.dims;
    this.yW = data.y[0].length;
    this.xW = data.x[0].length;
    const crop = (data.scatter && data.scatter.crop) || [[0, 0], [0, 0]];
    this.cropLo = [crop[0][0], crop[1][0]];
    this.byOut = new Map();
    this.byIn = new Map();
    this.byTap = new Map();
    for (const link of data.links) {
      const [r, c] = link.out;
      this.byOut.set(`${r},${c}`, link.terms);
      for (const [ir, ic, kr, kc] of link.terms) {
        push(this.byIn, `${ir},${ic}`, [r, c, kr, kc]);
        push(this.byTap, `${kr},${kc}`, [r, c, ir, ic]);
      }
    }
  }

  fo(r, c) {
    return r * this.yW + c;
  }

  fi(r, c) {
    return r * this.xW + c;
  }

  /** The keys to light, and the matrix bands, when entity `key` is hovered or stepped on. */
  expand(key) {
    const lit = new Set([key]);
    const bands = new Set();
    const [kind, rest] = key.split(":");
    const [a, b] = rest.split(",").map(Number);
    const out = (r, c) => {
      lit.add(`o:${r},${c}`);
      lit.add(`f:${r + this.cropLo[0]},${c + this.cropLo[1]}`);
    };
    if (kind === "o") {
      out(a, b);
      bands.add(`mo:${this.fo(a, b)}`);
      for (const [ir, ic, kr, kc] of this.byOut.get(`${a},${b}`) || []) {
        lit.add(`i:${ir},${ic}`);
        lit.add(`t:${kr},${kc}`);
        lit.add(`m:${this.fo(a, b)},${this.fi(ir, ic)}`);
        lit.add(`p:${ir},${ic}@${a + this.cropLo[0]},${b + this.cropLo[1]}`);
      }
    } else if (kind === "i") {
      bands.add(`mi:${this.fi(a, b)}`);
      lit.add(`pr:${a},${b}`);
      for (const [r, c, kr, kc] of this.byIn.get(`${a},${b}`) || []) {
        out(r, c);
        lit.add(`t:${kr},${kc}`);
        lit.add(`m:${this.fo(r, c)},${this.fi(a, b)}`);
      }
    } else if (kind === "t") {
      for (const [r, c, ir, ic] of this.byTap.get(`${a},${b}`) || []) {
        out(r, c);
        lit.add(`i:${ir},${ic}`);
        lit.add(`m:${this.fo(r, c)},${this.fi(ir, ic)}`);
        lit.add(`p:${ir},${ic}@${r + this.cropLo[0]},${c + this.cropLo[1]}`);
      }
    } else if (kind === "m") {
      // A matrix entry: its output row and input column, and the taps joining them.
      const [r, c] = [Math.floor(a / this.yW), a % this.yW];
      const [ir, ic] = [Math.floor(b / this.xW), b % this.xW];
      out(r, c);
      lit.add(`i:${ir},${ic}`);
      bands.add(`mo:${a}`);
      bands.add(`mi:${b}`);
      for (const [tir, tic, kr, kc] of this.byOut.get(`${r},${c}`) || []) {
        if (tir === ir && tic === ic) lit.add(`t:${kr},${kc}`);
      }
    }
    return { lit, bands };
  }
}

function push(map, key, value) {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Lights keys in the DOM (class `cls`) and tells canvas listeners. */
export class Highlighter {
  constructor(root) {
    this.root = root;
    this.index = new Map();
    this.on = { lit: [], cur: [] };
    this.listeners = [];
  }

  reindex() {
    // Elements still in the page (a partial redraw) lose their old highlight.
    for (const cls of Object.keys(this.on)) for (const el of this.on[cls]) el.classList.remove(cls, cls + "-band");
    this.index = new Map();
    for (const el of this.root.querySelectorAll("[data-keys]")) {
      for (const k of el.dataset.keys.split(" ")) push(this.index, k, el);
    }
    this.on = { lit: [], cur: [] };
    this.listeners = [];
  }

  /** Light `expanded` ({lit, bands}) with class `cls` ("lit" for hover, "cur" for step). */
  show(cls, expanded) {
    for (const el of this.on[cls]) el.classList.remove(cls, cls + "-band");
    this.on[cls] = [];
    if (expanded) {
      for (const k of expanded.lit) for (const el of this.index.get(k) || []) {
        el.classList.add(cls);
        this.on[cls].push(el);
      }
      for (const k of expanded.bands) for (const el of this.index.get(k) || []) {
        el.classList.add(cls + "-band");
        this.on[cls].push(el);
      }
    }
    for (const fn of this.listeners) fn(cls, expanded);
  }
}
