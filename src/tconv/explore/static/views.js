// The views. Each draws what the API computed; none computes a value.
import { blank, cell, fmt, grid, h, heat, idx } from "./dom.js";

const ROW_NAMES = ["rows", "columns"];

const NAMES = { i: "x", t: "w", o: "y" };

function valuesGrid(values, role, keyKind, { nav = false, label = "", cls = "", mark, dims } = {}) {
  const rows = values.length;
  const cols = rows ? values[0].length : 0;
  const d = dims || (rows > 1 ? 2 : 1);
  const name = NAMES[keyKind] || keyKind;
  return grid(
    rows,
    cols,
    (r, c) =>
      cell({
        v: values[r][c],
        role,
        r,
        c,
        keys: [`${keyKind}:${r},${c}`],
        hover: `${keyKind}:${r},${c}`,
        cls: (values[r][c] === 0 ? "zero-v " : "") + (mark ? mark(r, c) : ""),
        title: `${name}${idx(d, r, c)} = ${fmt(values[r][c])}`,
      }),
    { nav, label, cls: `${role}-grid ${cls}` },
  );
}

function caption(text) {
  return h("p", { class: "caption" }, text);
}

function labelled(name, el, note) {
  return h("div", { class: "labelled" }, h("span", { class: "name" }, name), el, note ? h("span", { class: "note" }, note) : null);
}

function shapeText(values, dims) {
  return dims === 1 ? `${values[0].length}` : `${values.length}x${values[0].length}`;
}

// ---------------------------------------------------------------- summary

export function summary(data) {
  const d = data.dims;
  const opName = data.state.op === "conv" ? "convolution" : "transposed convolution";
  return [
    caption(`${opName}, ${d}-D: input ${shapeText(data.x, d)}, kernel ${shapeText(data.w, d)}, output ${shapeText(data.y, d)}. Hover or focus a cell to see what it sums.`),
    labelled("x", valuesGrid(data.x, "in", "i", { nav: true, label: "input x", dims: d })),
    labelled("w", valuesGrid(data.w, "tap", "t", { nav: true, label: "kernel w", dims: d })),
    labelled("y", valuesGrid(data.y, "out", "o", { nav: true, label: "output y", dims: d })),
  ];
}

// ---------------------------------------------------------------- scatter

export function scatter(data, ui) {
  const sc = data.scatter;
  const d = data.dims;
  if (!sc) return convScatter(data);
  const full = sc.full;
  const [[rlo, rhi], [clo, chi]] = sc.crop;
  const intro = data.state.op === "conv"
    ? "The same matrix read by columns: each input sample scatters its row of the transposed matrix."
    : "Each input sample places a copy of the kernel, weighted by its value, at offset stride x index; the sum, cropped by padding, is y.";
  const out = [caption(intro)];
  const fullCls = (r, c) => (r < rlo || r >= full.length - rhi || c < clo || c >= full[0].length - chi ? "cropped" : "");
  const fullCell = (r, c) => {
    const inside = !fullCls(r, c);
    const keys = [`f:${r},${c}`];
    if (inside) keys.push(`o:${r - rlo},${c - clo}`);
    return cell({
      v: full[r][c], role: "full", r, c, keys, hover: inside ? `o:${r - rlo},${c - clo}` : undefined,
      cls: fullCls(r, c) + (full[r][c] === 0 ? " zero-v" : ""),
    });
  };
  if (d === 1) {
    // Every piece as a row, aligned on the full (uncropped) axis, then the sum and y.
    const F = full[0].length;
    const shift = Math.max(0, -clo);
    const cols = Math.max(F, clo + data.y[0].length) + shift;
    const rows = [];
    for (const p of sc.pieces) {
      const [ir, ic] = p.in;
      const c0 = p.offset[1];
      const vals = p.values ? p.values[0] : sc.kernel[0].map(() => null);
      const g = grid(1, cols, (_, c) => {
        const j = c - shift - c0;
        if (j < 0 || j >= vals.length) return null;
        const fc = c - shift;
        return cell({
          v: vals[j], role: "piece", r: ir, c: ic,
          keys: [`p:${ir},${ic}@0,${fc}`, `pr:${ir},${ic}`], hover: `i:${ir},${ic}`,
          cls: vals[j] === 0 ? "zero-v" : "",
        });
      }, { cls: "piece-grid" });
      const xv = data.x[ir][ic];
      rows.push(labelled(h("span", { class: "piece-label", dataset: { keys: `i:${ir},${ic}`, hover: `i:${ir},${ic}`, role: "in", r: ir, c: ic, v: xv } }, `x${idx(1, ir, ic)} = ${fmt(xv)}`), g));
    }
    out.push(h("div", { class: "stack" }, rows));
    const sum = grid(1, cols, (_, c) => (c - shift >= 0 && c - shift < F ? fullCell(0, c - shift) : null), { cls: "full-grid" });
    out.push(labelled("sum", sum, rlo || rhi || clo || chi ? "hatched: cropped by padding" : ""));
    const y = grid(1, cols, (_, c) => {
      const j = c - shift - clo;
      if (j < 0 || j >= data.y[0].length) return null;
      return cell({ v: data.y[0][j], role: "out", r: 0, c: j, keys: [`o:0,${j}`], hover: `o:0,${j}` });
    }, { cls: "out-grid" });
    out.push(labelled("y", y));
  } else {
    // 2-D: the sum before the crop, y, and the piece of one input (hover an input to change it).
    const pick = ui.scatterPiece && sc.pieces.find((p) => `${p.in}` === ui.scatterPiece);
    const piece = pick || sc.pieces.find((p) => data.x[p.in[0]][p.in[1]] !== 0) || sc.pieces[0];
    out.push(h("div", { class: "side" },
      labelled("sum before the crop", grid(full.length, full[0].length, fullCell, { cls: "full-grid" }), "hatched: cropped"),
      labelled("y", valuesGrid(data.y, "out", "o", { dims: d })),
    ));
    const pieceGrid = (p, cls) => {
      const [ir, ic] = p.in;
      const [r0, c0] = p.offset;
      const pv = p.values || sc.kernel.map((row) => row.map(() => null));
      return grid(full.length, full[0].length, (r, c) => {
        const pr = r - r0;
        const pc = c - c0;
        if (pr < 0 || pc < 0 || pr >= pv.length || pc >= pv[0].length) return blank("faint");
        return cell({
          v: pv[pr][pc], role: "piece", r: ir, c: ic,
          keys: [`p:${ir},${ic}@${r},${c}`, `pr:${ir},${ic}`], hover: `i:${ir},${ic}`,
          cls: pv[pr][pc] === 0 ? "zero-v" : "",
        });
      }, { cls: `piece-grid ${cls}` });
    };
    if (sc.pieces.length <= 16 && full.length * full[0].length <= 196) {
      // Few and small: every piece, as small multiples.
      out.push(h("p", { class: "caption" }, "the pieces x[r,c] · w, each at its offset:"));
      out.push(h("div", { class: "multiples" }, sc.pieces.map((p) => h("figure", { class: "multiple" },
        pieceGrid(p, "mini"),
        h("figcaption", { dataset: { keys: `i:${p.in[0]},${p.in[1]}`, hover: `i:${p.in[0]},${p.in[1]}` } }, `x${idx(2, p.in[0], p.in[1])} = ${fmt(data.x[p.in[0]][p.in[1]])}`)))));
    } else if (piece) {
      const [ir, ic] = piece.in;
      const [r0, c0] = piece.offset;
      out.push(labelled(`x${idx(2, ir, ic)} · w at (${r0}, ${c0})`, pieceGrid(piece, ""), "hover an input to see its piece"));
    }
  }
  return out;
}

/** A convolution read by columns: input i reaches the outputs with the weights of column i of M. */
function convScatter(data) {
  const M = data.matrix.M;
  const out = [caption("A convolution gathers (see Gather). Read by columns, it scatters too: input x[i] reaches the outputs with the weights of column i of M, and y sums x[i] times them. The transposed convolution scatters whole kernels.")];
  if (data.dims !== 1 || !M) return out;
  const Y = data.y[0].length;
  const rows = [];
  for (let i = 0; i < data.x[0].length; i++) {
    const g = grid(1, Y, (_, o) => (M[o][i] === 0 ? null : cell({
      v: M[o][i], role: "piece", r: 0, c: i, keys: [`p:0,${i}@0,${o}`, `pr:0,${i}`], hover: `i:0,${i}`,
    })), { cls: "piece-grid" });
    const xv = data.x[0][i];
    rows.push(labelled(h("span", { class: "piece-label", dataset: { keys: `i:0,${i}`, hover: `i:0,${i}`, role: "in", r: 0, c: i, v: xv } }, `x${idx(1, 0, i)} = ${fmt(xv)}`), g));
  }
  out.push(h("div", { class: "stack" }, rows));
  out.push(labelled("y", valuesGrid(data.y, "out", "o", { dims: 1 })));
  return out;
}

// ---------------------------------------------------------------- gather

/** Where each tap sits in the slid kernel, read from the links (no arithmetic on values). */
export function kernelTaps(data) {
  const ga = data.gather;
  const at = new Map();
  for (const [gr, gc, ir, ic] of ga.from) at.set(`${ir},${ic}`, [gr, gc]);
  const taps = new Map();
  for (const link of data.links) {
    const [r, c] = link.out;
    for (const [ir, ic, kr, kc] of link.terms) {
      const g = at.get(`${ir},${ic}`);
      if (g) taps.set(`${g[0] - r * ga.step[0]},${g[1] - c * ga.step[1]}`, [kr, kc]);
    }
  }
  return taps;
}

export function gather(data, ui) {
  const ga = data.gather;
  const d = data.dims;
  const G = ga.grid;
  const K = ga.kernel;
  const from = new Map();
  let [rmin, rmax, cmin, cmax] = [Infinity, -1, Infinity, -1];
  for (const [gr, gc, ir, ic] of ga.from) {
    from.set(`${gr},${gc}`, [ir, ic]);
    rmin = Math.min(rmin, gr); rmax = Math.max(rmax, gr);
    cmin = Math.min(cmin, gc); cmax = Math.max(cmax, gc);
  }
  const taps = kernelTaps(data);
  const gridCell = (r, c) => {
    const src = from.get(`${r},${c}`);
    if (src) {
      return cell({
        v: G[r][c], role: "in", r: src[0], c: src[1], keys: [`i:${src[0]},${src[1]}`, `g:${r},${c}`],
        hover: `i:${src[0]},${src[1]}`, cls: G[r][c] === 0 ? "zero-v" : "",
      });
    }
    const inside = r >= rmin && r <= rmax && c >= cmin && c <= cmax;
    return cell({ v: G[r][c], role: "zero", r, c, keys: [`g:${r},${c}`], cls: inside ? "inserted" : "pad", title: inside ? "inserted zero" : "padding" });
  };
  const kCell = (r, c) => {
    const t = taps.get(`${r},${c}`);
    return cell({
      v: K[r][c], role: t ? "tap" : "kzero", r: t ? t[0] : r, c: t ? t[1] : c,
      keys: t ? [`t:${t[0]},${t[1]}`, `k:${r},${c}`] : [`k:${r},${c}`], hover: t ? `t:${t[0]},${t[1]}` : undefined,
      cls: K[r][c] === 0 ? "zero-v" : "",
    });
  };
  const slid = data.state.op === "conv" ? "w" : "w flipped";
  const intro = data.state.op === "conv"
    ? `y[i] is the inner product of the kernel with the padded input at i x stride (${ga.step.join(", ")}).`
    : "The same output as a stride-1 convolution: stride-1 zeros inserted between the inputs, padded by d(k-1)-p, and the flipped kernel slid over it.";
  const out = [caption(intro)];
  const gEl = grid(G.length, G[0].length, gridCell, { cls: "gather-grid" });
  const kEl = grid(K.length, K[0].length, kCell, { cls: "kernel-grid" });
  if (d === 1) {
    kEl.classList.add("sliding");
    out.push(labelled("grid", gEl, "dashed: padding; dotted: inserted zeros"));
    out.push(labelled(slid, kEl));
  } else {
    out.push(h("div", { class: "side" }, labelled("grid", gEl, "dashed: padding, dotted: inserted zeros"), labelled(slid, kEl)));
  }
  out.push(labelled("y", valuesGrid(data.y, "out", "o", { dims: d })));
  out.push(h("p", { class: "caption window-note", "aria-live": "polite" }, ""));
  return out;
}

/**
 * Move the gather window to output (r, c): outline the window, slide the 1-D kernel.
 * `find(key)` gives the elements of a link key (the highlighter's index).
 */
export function placeWindow(section, data, r, c, find) {
  if (!section) return;
  const ga = data.gather;
  const K = ga.kernel;
  const [or, oc] = [r * ga.step[0], c * ga.step[1]];
  for (const el of section.querySelectorAll(".gather-grid .cell.win")) el.classList.remove("win");
  for (let i = 0; i < K.length; i++) {
    for (let j = 0; j < K[0].length; j++) {
      for (const el of find(`g:${or + i},${oc + j}`)) el.classList.add("win");
    }
  }
  const k = section.querySelector(".kernel-grid.sliding");
  if (k) k.style.setProperty("--shift", String(oc));
  const note = section.querySelector(".window-note");
  if (note) note.textContent = `window of y${idx(data.dims, r, c)} = ${fmt(data.y[r][c])}: grid from ${idx(data.dims, or, oc)}`;
}

// ---------------------------------------------------------------- matrix

const DOM_MATRIX_MAX = 1600;

export function matrix(data, ui, onToggle) {
  const M = data.matrix.M;
  const [R, C] = data.matrix.shape;
  const d = data.dims;
  const tr = !!ui.transpose;
  const out = [caption(data.matrix.note || "")];
  const otherName = data.state.op === "conv" ? "Mᵀ (the transposed convolution's matrix)" : "Mᵀ = C (the convolution's matrix)";
  const box = h("input", { type: "checkbox", id: "matrix-transpose", checked: tr ? true : undefined, onchange: (ev) => onToggle(ev.target.checked) });
  out.push(h("p", { class: "inline" }, box, h("label", { for: "matrix-transpose" }, ` show ${otherName}`)));
  const yFlat = [];
  for (let r = 0; r < data.y.length; r++) for (let c = 0; c < data.y[0].length; c++) yFlat.push([r, c]);
  const xFlat = [];
  for (let r = 0; r < data.x.length; r++) for (let c = 0; c < data.x[0].length; c++) xFlat.push([r, c]);
  const head = (kind, [r, c]) => {
    const vals = kind === "o" ? data.y : data.x;
    return cell({ v: vals[r][c], role: kind === "o" ? "out" : "in", r, c, keys: [`${kind}:${r},${c}`], hover: `${kind}:${r},${c}`, cls: "head", title: `${kind === "o" ? "y" : "x"}${idx(d, r, c)}` });
  };
  if (!M) {
    out.push(caption(`${R} x ${C}: too large to send; the links (hover any cell) give its pattern.`));
  } else if (R * C <= DOM_MATRIX_MAX) {
    const rowsN = tr ? C : R;
    const colsN = tr ? R : C;
    const g = grid(rowsN + 1, colsN + 1, (i, j) => {
      if (i === 0 && j === 0) return cell({ text: tr ? "x \\ y" : "y \\ x", cls: "corner" });
      if (i === 0) return tr ? head("o", yFlat[j - 1]) : head("i", xFlat[j - 1]);
      if (j === 0) return tr ? head("i", xFlat[i - 1]) : head("o", yFlat[i - 1]);
      const [ro, ci] = tr ? [j - 1, i - 1] : [i - 1, j - 1];
      const v = M[ro][ci];
      return cell({
        v, role: "m", r: ro, c: ci, keys: [`m:${ro},${ci}`, `mo:${ro}`, `mi:${ci}`], hover: `m:${ro},${ci}`,
        cls: v === 0 ? "mzero" : v > 0 ? "mpos" : "mneg", text: v === 0 ? "·" : fmt(v),
      });
    }, { cls: "matrix-grid" });
    out.push(g);
  } else {
    out.push(matrixCanvas(M, R, C, tr));
    out.push(caption(`${R} x ${C}: drawn as a heat map (orange positive, blue negative). Hover it, or an output elsewhere, to light its row and column.`));
  }
  return out;
}

function matrixCanvas(M, R, C, tr) {
  const rowsN = tr ? C : R;
  const colsN = tr ? R : C;
  // cells as large as fit (up to 8 px), wider than tall when the matrix is tall and thin
  const pw = Math.max(1, Math.min(8, Math.floor(420 / colsN)));
  const ph = Math.max(1, Math.min(8, Math.floor(540 / rowsN)));
  const canvas = h("canvas", { class: "matrix-canvas", width: colsN * pw, height: rowsN * ph, role: "img", "aria-label": `matrix ${R} x ${C}`, dataset: { role: "matrix-canvas" } });
  const overlay = h("canvas", { class: "matrix-overlay", width: colsN * pw, height: rowsN * ph, "aria-hidden": "true" });
  let maxAbs = 0;
  for (const row of M) for (const v of row) maxAbs = Math.max(maxAbs, Math.abs(v));
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  for (let ro = 0; ro < R; ro++) {
    for (let ci = 0; ci < C; ci++) {
      const v = M[ro][ci];
      if (v === 0) continue;
      const a = maxAbs ? 0.25 + 0.75 * Math.abs(v) / maxAbs : 1;
      ctx.fillStyle = v > 0 ? `rgba(230,159,0,${a})` : `rgba(0,114,178,${a})`;
      const [i, j] = tr ? [ci, ro] : [ro, ci];
      ctx.fillRect(j * pw, i * ph, pw, ph);
    }
  }
  const wrap = h("div", { class: "matrix-wrap" }, canvas, overlay);
  const at = (ev) => {
    const b = canvas.getBoundingClientRect();
    const j = Math.floor((ev.clientX - b.left) / pw);
    const i = Math.floor((ev.clientY - b.top) / ph);
    if (i < 0 || j < 0 || i >= rowsN || j >= colsN) return null;
    return tr ? `m:${j},${i}` : `m:${i},${j}`;
  };
  canvas.addEventListener("mousemove", (ev) => {
    const k = at(ev);
    if (k) canvas.dataset.hover = k;
  });
  wrap.drawBands = (expanded) => {
    const o = overlay.getContext("2d");
    o.clearRect(0, 0, overlay.width, overlay.height);
    if (!expanded) return;
    o.fillStyle = "rgba(213,94,0,0.18)";
    for (const b of expanded.bands) {
      const [kind, n] = b.split(":");
      const isRow = (kind === "mo") !== tr;
      if (isRow) o.fillRect(0, +n * ph, overlay.width, ph);
      else o.fillRect(+n * pw, 0, pw, overlay.height);
    }
    o.strokeStyle = "#D55E00";
    o.lineWidth = Math.max(1, Math.min(pw, ph) / 4);
    for (const k of expanded.lit) {
      if (!k.startsWith("m:")) continue;
      const [ro, ci] = k.slice(2).split(",").map(Number);
      const [i, j] = tr ? [ci, ro] : [ro, ci];
      o.strokeRect(j * pw, i * ph, pw, ph);
    }
  };
  return wrap;
}

// ---------------------------------------------------------------- sizes

export function sizes(data) {
  const s = data.sizes;
  const d = data.dims;
  const nums = Array.isArray(s.numbers) ? s.numbers : [s.numbers];
  const out = [
    h("p", { class: "formula" }, h("span", { class: "name" }, "output size "), h("code", {}, s.formula)),
    h("ul", { class: "numbers" }, nums.map((n, i) => h("li", {}, d === 2 ? `${ROW_NAMES[i]}: ` : "", h("code", { dataset: { role: "size-numbers" } }, n)))),
    h("p", {}, "output shape ", h("strong", { dataset: { role: "output-shape", v: JSON.stringify(s.output_shape) } }, d === 1 ? String(s.output_shape[s.output_shape.length - 1]) : s.output_shape.join(" x "))),
  ];
  const wr = Array.isArray(s.W_rule) ? s.W_rule : s.W_rule ? [s.W_rule] : [];
  if (wr.length) out.push(h("ul", { class: "wrule" }, wr.map((t, i) => h("li", {}, d === 2 ? `${ROW_NAMES[i]}: ` : "", h("code", { dataset: { role: "w-rule" } }, t)))));
  const ignored = s.ignored_inputs || [];
  const set = new Set(ignored.map((p) => `${p[0]},${p[1]}`));
  out.push(labelled("x", valuesGrid(data.x, "in", "i", { dims: d, mark: (r, c) => (set.has(`${r},${c}`) ? "ignored" : "") })));
  if (data.state.op === "conv") {
    out.push(caption(ignored.length
      ? `${ignored.length} input sample${ignored.length > 1 ? "s are" : " is"} never read (marked): the stride steps over them.`
      : "Every input sample is read by some output."));
  }
  return out;
}

// ---------------------------------------------------------------- artifacts

export function artifacts(data) {
  const a = data.artifacts;
  const cov = a.coverage;
  // conv_transpose: the coverage of each output; conv: how many outputs read each input.
  const perInput = data.state.op === "conv";
  const kind = perInput ? "i" : "o";
  let lo = Infinity;
  let hi = -Infinity;
  for (const row of cov) for (const v of row) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const g = grid(cov.length, cov[0].length, (r, c) => {
    const el = cell({ v: cov[r][c], role: "cov", r, c, keys: [`${kind}:${r},${c}`], hover: `${kind}:${r},${c}` });
    const col = heat(hi > lo ? (cov[r][c] - lo) / (hi - lo) : 0.5);
    el.style.background = col.bg;
    el.style.color = col.fg;
    return el;
  }, { cls: "cov-grid" });
  const out = [
    caption(perInput
      ? "How many outputs read each input sample (0: ignored by the stride)."
      : `How many (input, tap) pairs land on each output${data.dims === 2 ? " (heat map)" : ""}; uneven coverage is the checkerboard.`),
    labelled("coverage", g),
  ];
  const ps = a.phase_sums;
  if (ps && ps.length) {
    const ps2 = Array.isArray(ps[0]) ? ps : [ps];
    out.push(labelled("phase sums", grid(ps2.length, ps2[0].length, (r, c) => cell({ v: ps2[r][c], role: "phase", r, c }), { cls: "phase-grid" }), "the kernel's taps summed per output phase"));
  }
  if (a.constant_response) {
    out.push(labelled("ones in", valuesGrid(a.constant_response, "const", "o", { dims: data.dims }), "the output for an all-ones input"));
  }
  if (a.checkerboard_index !== null && a.checkerboard_index !== undefined) {
    out.push(h("p", {}, "checkerboard index ", h("strong", { dataset: { role: "checkerboard-index", v: a.checkerboard_index } }, fmt(a.checkerboard_index))));
  }
  if (a.artifact_free !== null && a.artifact_free !== undefined) {
    const free = !!a.artifact_free;
    out.push(h("p", { class: free ? "badge ok" : "badge warn", dataset: { role: "artifact-free", v: String(free) } }, free ? "artifact-free: equal phase sums" : "not artifact-free: the phase sums differ"));
  }
  if (a.note) out.push(caption(a.note));
  return out;
}

// ---------------------------------------------------------------- step-through

export function stepItems(data, mode) {
  if (mode === "tap") {
    const items = [];
    for (let r = 0; r < data.w.length; r++) for (let c = 0; c < data.w[0].length; c++) items.push([r, c]);
    return items;
  }
  return data.links.map((l) => l.out);
}

export function step(data, ui, handlers) {
  const d = data.dims;
  const mode = ui.stepMode === "tap" ? "tap" : "output";
  const items = stepItems(data, mode);
  const n = items.length;
  const pos = Math.min(Math.max(0, ui.stepPos || 0), n - 1);
  const [a, b] = items[pos];
  const sel = h("select", { id: "step-mode", onchange: (ev) => handlers.mode(ev.target.value) },
    h("option", { value: "output", selected: mode === "output" ? true : undefined }, "one output at a time"),
    h("option", { value: "tap", selected: mode === "tap" ? true : undefined }, "one tap at a time"));
  const range = h("input", { type: "range", id: "step-pos", min: 0, max: n - 1, value: pos, oninput: (ev) => handlers.go(+ev.target.value) });
  const controls = h("div", { class: "step-controls" },
    h("label", { for: "step-mode" }, "step "), sel,
    h("button", { type: "button", class: "btn", id: "step-prev", "aria-label": "previous step", onclick: () => handlers.go(pos - 1) }, "◀"),
    h("button", { type: "button", class: "btn", id: "step-play", "aria-pressed": ui.playing ? "true" : "false", onclick: () => handlers.play() }, ui.playing ? "pause" : "play"),
    h("button", { type: "button", class: "btn", id: "step-next", "aria-label": "next step", onclick: () => handlers.go(pos + 1) }, "▶"),
    h("label", { for: "step-pos", class: "sr-only" }, "step position"), range,
    h("span", { class: "counter" }, `${pos + 1} / ${n}`));
  const term = (kind, r, c, v) => h("span", { class: "term", dataset: { keys: `${kind}:${r},${c}`, hover: `${kind}:${r},${c}`, role: kind === "i" ? "in" : "tap", r, c, v } }, `${kind === "i" ? "x" : "w"}${idx(d, r, c)}`);
  let body;
  if (mode === "output") {
    const terms = data.links[pos].terms;
    const y = data.y[a][b];
    const yEl = h("span", { class: "term out", dataset: { keys: `o:${a},${b}`, hover: `o:${a},${b}`, role: "out", r: a, c: b, v: y } }, `y${idx(d, a, b)}`);
    body = terms.length
      ? [
          h("p", { class: "eq" }, yEl, " = ", terms.flatMap(([ir, ic, kr, kc], i) => [i ? " + " : "", term("i", ir, ic, data.x[ir][ic]), "·", term("t", kr, kc, data.w[kr][kc])])),
          h("p", { class: "eq" }, " = ", terms.map(([ir, ic, kr, kc], i) => `${i ? " + " : ""}(${fmt(data.x[ir][ic])})(${fmt(data.w[kr][kc])})`).join(""), " = ", h("strong", { dataset: { role: "step-value", v: y } }, fmt(y))),
        ]
      : [h("p", { class: "eq" }, yEl, " = ", h("strong", { dataset: { role: "step-value", v: y } }, fmt(y)), " : no input reaches it (only padding or inserted zeros)")];
  } else {
    const uses = [];
    for (const l of data.links) for (const [ir, ic, kr, kc] of l.terms) if (kr === a && kc === b) uses.push([l.out, ir, ic]);
    const wv = data.w[a][b];
    body = [
      h("p", { class: "eq" }, term("t", a, b, wv), ` = ${fmt(wv)} is used by ${uses.length} output${uses.length === 1 ? "" : "s"}:`),
      h("ul", { class: "uses" }, uses.slice(0, 64).map(([[r, c], ir, ic]) => h("li", {}, h("span", { class: "term out", dataset: { keys: `o:${r},${c}`, hover: `o:${r},${c}` } }, `y${idx(d, r, c)}`), " += ", term("i", ir, ic, data.x[ir][ic]), ` · w = (${fmt(data.x[ir][ic])})(${fmt(wv)})`))),
      uses.length > 64 ? caption(`... and ${uses.length - 64} more`) : null,
    ];
  }
  const pad = h("div", { class: "step-pad", tabindex: 0, id: "step-pad", "aria-label": "step-through: arrow keys step, space plays or pauses", "aria-live": "polite" }, body);
  return [controls, pad];
}

// ---------------------------------------------------------------- code

const FRAMEWORKS = { tconv: "tconv", pytorch: "PyTorch", tf: "TensorFlow", keras: "Keras", jax: "JAX", onnx: "ONNX" };

export function code(data, ui, onTab) {
  const codes = data.code || {};
  const order = Object.keys(FRAMEWORKS);
  const names = Object.keys(codes).filter((k) => codes[k]).sort((p, q) => (order.indexOf(p) + 99 * !order.includes(p)) - (order.indexOf(q) + 99 * !order.includes(q)));
  const cur = names.includes(ui.codeTab) ? ui.codeTab : names[0];
  const tabs = h("div", { class: "tabs", role: "tablist", "aria-label": "framework" }, names.map((k) =>
    h("button", { type: "button", role: "tab", class: "tab", id: `code-tab-${k}`, "aria-selected": k === cur ? "true" : "false", dataset: { fw: k }, onclick: () => onTab(k) }, FRAMEWORKS[k] || k)));
  const pre = h("pre", { class: "code", id: "code-text", tabindex: 0, "aria-label": `${FRAMEWORKS[cur] || cur} code` }, h("code", {}, cur ? codes[cur] : ""));
  const status = h("span", { class: "copy-status", "aria-live": "polite" });
  const copy = h("button", { type: "button", class: "btn", id: "code-copy", onclick: () => copyText(pre.textContent, status, pre) }, "Copy");
  return [tabs, pre, h("p", {}, copy, " ", status)];
}

function copyText(text, status, pre) {
  const done = () => { status.textContent = "copied"; };
  const fallback = () => {
    const range = document.createRange();
    range.selectNodeContents(pre);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    let ok = false;
    try { ok = document.execCommand("copy"); } catch (_) { ok = false; }
    status.textContent = ok ? "copied" : "selected: press Ctrl+C";
  };
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
  else fallback();
}
