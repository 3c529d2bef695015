// rnnlab playground: the network drawn as SVG. The cell unrolled over the context (one column per
// time step: x_t -> cell -> h_t -> the next step, the readout after the context), and the cell of
// the selected step opened up: h_{t-1} and x_t on the left, h_t on the right, one edge per weight
// (red positive, blue negative, as thick as its size), the gates of an lstm or gru in between.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const net = { gate: 0 };  // the gate whose weights the open cell shows

function svgEl(name, attrs, title) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (title) { const t = document.createElementNS(SVG, "title"); t.textContent = title; el.appendChild(t); }
  return el;
}

function valueColor(v) {
  // -1 blue, 0 white, +1 red, as the weights' heat map
  const t = Math.max(-1, Math.min(1, v));
  const [r, g, b] = t >= 0 ? [255, 255 - 150 * t, 255 - 170 * t] : [255 + 170 * t, 255 + 110 * t, 255];
  return `rgb(${r | 0},${g | 0},${b | 0})`;
}
function edgeColor(w) { return w >= 0 ? "#c0392b" : "#2463c9"; }
function num(v) { return typeof v === "number" ? (Math.abs(v) >= 1e-4 || v === 0 ? v.toFixed(6) : v.toExponential(4)) : "—"; }

// the gates stacked in weight_ih / weight_hh, in torch's order
const CELL_GATES = { rnn: ["h"], lstm: ["i", "f", "g", "o"], gru: ["r", "z", "n"] };

function drawNetwork(container, view, weights, hand, step, cell, onStep) {
  container.innerHTML = "";
  if (!view || !weights) return;
  const H = view.states.length ? view.states[0].length : 1, T = view.context.length, n = view.inputs.length;
  const gates = CELL_GATES[cell] || ["h"];
  if (net.gate >= gates.length) net.gate = 0;
  const head = document.createElement("div");
  head.className = "gates note";
  head.innerHTML = `<b>The network</b>, unrolled over the ${T} context steps and ${n - T} fed-back ones. ` +
    (gates.length > 1 ? `Edges of the gate: ${gates.map((g, k) => `<button type="button" data-gate="${k}" aria-pressed="${k === net.gate}">${g}</button>`).join(" ")}` : "");
  head.addEventListener("click", (e) => {
    const b = e.target.closest("button[data-gate]");
    if (b) { net.gate = Number(b.dataset.gate); drawNetwork(container, view, weights, hand, step, cell, onStep); }
  });
  container.appendChild(head);
  container.appendChild(unrolled(view, step, H, T, n, onStep));
  if (step === null || step === undefined) {
    container.insertAdjacentHTML("beforeend", '<p class="note">Click a step (a column) to open its cell.</p>');
    return;
  }
  container.appendChild(openCell(view, weights, hand, step, H, cell, gates));
  container.insertAdjacentHTML("beforeend", `<p class="note">The cell of step ${step}${(weights.weight_ih_l1 ? " (layer 0)" : "")}: ` +
    "edges red for a positive weight, blue for a negative one, as thick as its size; dashed from x<sub>t</sub>. Hover a node or an edge for its value and the term it enters.</p>");
}

function unrolled(view, step, H, T, n, onStep) {
  const shown = Math.min(H, 16), gap = Math.min(16, 160 / shown), colW = 46;
  const top = 34, bottom = top + gap * (shown - 1), xY = bottom + 34, height = xY + 24;
  const svg = svgEl("svg", { width: n * colW + 20, height, "data-step": step ?? "", class: "unrolled", role: "img",
    "aria-label": `the cell unrolled over ${n} steps` });
  for (let k = 0; k < n; k++) {
    const cx = 10 + k * colW + colW / 2, h = view.states[k], x = view.inputs[k], fed = k >= T;
    const g = svgEl("g", { class: `column${k === step ? " active" : ""}`, "data-step": k });
    g.appendChild(svgEl("rect", { class: "bg", x: cx - colW / 2 + 2, y: 2, width: colW - 4, height: height - 4, rx: 4,
      fill: fed ? "#fdf4ec" : "#fafbfd", stroke: "#d8dde6" }));
    g.appendChild(svgEl("text", { x: cx, y: height - 4, "text-anchor": "middle", "font-size": 10, fill: "#5b6575" }, null))
      .textContent = `t${k}`;
    // x_t -> the cell
    g.appendChild(svgEl("line", { x1: cx, y1: xY - 8, x2: cx, y2: bottom + 8, stroke: "#9aa3b2" }));
    g.appendChild(svgEl("circle", { cx, cy: xY, r: 8, fill: valueColor(x), stroke: fed ? "#e07b00" : "#2463c9",
      "data-node": `x.${k}`, "data-value": x }, `x_${k} = ${num(x)}${fed ? " (a prediction fed back)" : ""} — the input the cell reads at step ${k}`));
    for (let i = 0; i < shown; i++) {
      g.appendChild(svgEl("circle", { cx, cy: top + gap * i, r: Math.max(3, gap / 2 - 1), fill: valueColor(h[i]), stroke: "#5b6575",
        "data-node": `h.${k}.${i}`, "data-value": h[i] }, `h_${k}[${i}] = ${num(h[i])} — unit ${i} of the state after step ${k}`));
    }
    if (k + 1 < n) {  // h_t goes on to the next step
      const y = (top + bottom) / 2;
      g.appendChild(svgEl("line", { x1: cx + 9, y1: y, x2: cx + colW - 9, y2: y, stroke: "#5b6575", "stroke-width": 1.5,
        "marker-end": "url(#arrow)" }, `h_${k} → step ${k + 1}: W_hh·h_${k} enters its sum`));
    }
    if (k >= T - 1) {  // the readout: this step's prediction
      g.appendChild(svgEl("line", { x1: cx, y1: top - 6, x2: cx, y2: 18, stroke: "#e07b00" }));
      const yhat = k - T + 1 < view.forecast.length ? view.forecast[k - T + 1] : null;
      g.appendChild(svgEl("rect", { x: cx - 9, y: 4, width: 18, height: 14, rx: 3, fill: "#fdeee0", stroke: "#e07b00",
        "data-node": `y.${k}` }, `ŷ after step ${k}: the forecast of value ${view.context_index[0] + k + 1} = ${num(yhat)} (series units); read out of h_${k}`));
    }
    g.addEventListener("click", () => onStep(k));
    svg.appendChild(g);
  }
  const defs = svgEl("defs", {});
  const marker = svgEl("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto" });
  marker.appendChild(svgEl("path", { d: "M0,0 L10,5 L0,10 z", fill: "#5b6575" }));
  defs.appendChild(marker);
  svg.insertBefore(defs, svg.firstChild);
  return svg;
}

function openCell(view, weights, hand, step, H, cell, gates) {
  // layer 0 of the selected step, from the hand calculation when there is one
  const layer = hand && hand.hand && hand.hand.layers ? hand.hand.layers[0] : null;
  const hPrev = layer ? layer.h_prev : (step > 0 ? view.states[step - 1] : new Array(H).fill(0));
  const hNow = layer ? layer.h : view.states[step];
  const x = layer ? layer.x[0] : view.inputs[step];
  const g = net.gate, gate = gates[g];
  const term = layer ? layer.terms[g] : null;
  const Wih = weights.weight_ih_l0.values, Whh = weights.weight_hh_l0.values;
  const rows = Array.from({ length: H }, (_, i) => g * H + i);
  const scale = Math.max(1e-9, ...rows.flatMap((r) => [...Whh[r], ...Wih[r]].map(Math.abs)));
  const gap = Math.max(14, Math.min(28, 300 / H)), top = 40, height = top + gap * H + 50;
  const left = 90, mid = 300, right = 470, width = 600;
  const svg = svgEl("svg", { width, height, class: "open-cell", "data-step": step, "data-gate": gate, role: "img",
    "aria-label": `the cell at step ${step}` });
  const label = (tx, ty, text, anchor = "middle") => { svg.appendChild(svgEl("text", { x: tx, y: ty, "text-anchor": anchor, "font-size": 12 })).textContent = text; };
  label(left, 16, `h_{t−1} (step ${step - 1 < 0 ? "start" : step - 1})`);
  label(right, 16, gate === "h" ? `h_t (step ${step})` : `${gate}_t, then h_t`);
  label(mid, 16, `${cell} cell, step ${step}`);
  const unitY = (i) => top + gap * i, xY = top + gap * H + 20;
  for (let i = 0; i < H; i++) {
    const target = term ? term.value[i] : hNow[i];
    const sum = term ? term.preactivation[i] : null;
    for (let j = 0; j < H; j++) {
      const w = Whh[g * H + i][j];
      svg.appendChild(svgEl("line", { class: "edge", x1: left + 10, y1: unitY(j), x2: right - 10, y2: unitY(i), stroke: edgeColor(w),
        "stroke-width": 0.4 + 4 * Math.abs(w) / scale, opacity: 0.75, "data-edge": `weight_hh_l0.${g * H + i}.${j}`, "data-value": w },
        `W_h${gate}[${i},${j}] = weight_hh_l0[${g * H + i},${j}] = ${num(w)}; its term W·h_{t−1}[${j}] = ${num(w)} × ${num(hPrev[j])} = ${num(w * hPrev[j])}, in the sum of ${gate}_t[${i}]`));
    }
    const w = Wih[g * H + i][0];
    svg.appendChild(svgEl("line", { class: "edge", x1: left + 10, y1: xY, x2: right - 10, y2: unitY(i), stroke: edgeColor(w),
      "stroke-width": 0.4 + 4 * Math.abs(w) / scale, opacity: 0.75, "stroke-dasharray": "4 2", "data-edge": `weight_ih_l0.${g * H + i}.0`, "data-value": w },
      `W_i${gate}[${i}] = weight_ih_l0[${g * H + i},0] = ${num(w)}; its term W·x_t = ${num(w)} × ${num(x)} = ${num(w * x)}, in the sum of ${gate}_t[${i}]`));
    svg.appendChild(svgEl("circle", { cx: left, cy: unitY(i), r: 9, fill: valueColor(hPrev[i]), stroke: "#5b6575", "data-node": `h_prev.${i}`, "data-value": hPrev[i] },
      `h_{t−1}[${i}] = ${num(hPrev[i])} — the state the step starts from`));
    svg.appendChild(svgEl("circle", { cx: right, cy: unitY(i), r: 9, fill: valueColor(target), stroke: "#5b6575", "data-node": `${gate}.${i}`, "data-value": target },
      `${gate}_t[${i}] = ${num(target)}` + (sum !== null ? ` = ${term.activation}(sum ${num(sum)}): W_i${gate}·x_t + b_i${gate} + W_h${gate}·h_{t−1} + b_h${gate}` : "")));
    if (gate !== "h") {  // the cell's new state beside the gate
      svg.appendChild(svgEl("circle", { cx: right + 80, cy: unitY(i), r: 9, fill: valueColor(hNow[i]), stroke: "#111", "data-node": `h.${i}`, "data-value": hNow[i] },
        `h_t[${i}] = ${num(hNow[i])}` + (cell === "lstm" ? " = o_t ⊙ tanh(c_t)" : " = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t−1}")));
      svg.appendChild(svgEl("line", { x1: right + 10, y1: unitY(i), x2: right + 70, y2: unitY(i), stroke: "#9aa3b2" }));
    }
  }
  svg.appendChild(svgEl("circle", { cx: left, cy: xY, r: 10, fill: valueColor(x), stroke: "#2463c9", "data-node": "x", "data-value": x },
    `x_t = ${num(x)} — the input of step ${step}`));
  label(left - 16, xY + 4, "x_t", "end");
  if (gate !== "h") label(right + 80, 30, "h_t");
  return svg;
}
