// rnnlab playground: the page's logic over the JSON API (see /docs for the API itself).
"use strict";

const $ = (sel) => document.querySelector(sel);
const state = {
  options: null,   // GET /api/options
  run: null,       // id of the open run
  view: null,      // the chart payload currently shown
  edits: new Map(),// "name|i,j" -> {name, index, value}
  step: null,      // the step whose hand calculation is shown
  pick: null,      // null: off; [] waiting for start; [start] waiting for end
  job: null,       // the training this tab started
  source: null,    // its EventSource
  upload: null,    // id of an uploaded CSV
  ema: null,       // the smoothed loss so far
  undo: [],        // the edits before each change, for Undo
  plain: null,     // the chart of the run as stored (drawn faintly under an edit)
  weights: null,   // the weights shown
  hand: null,      // the hand calculation shown
};
const PLOT_CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

function fmt(v) {
  if (v === null || v === undefined) return "—";
  if (typeof v !== "number") return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  return (a >= 1e-4 && a < 1e6) ? v.toFixed(8) : v.toExponential(6);
}
function esc(s) { return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c])); }
function setStatus(text, error = false) { const el = $("#status"); el.textContent = text; el.classList.toggle("error", error); }

async function api(method, url, body, raw = false) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    if (raw) { init.body = body; init.headers["Content-Type"] = "text/csv"; }
    else { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
  }
  const response = await fetch(url, init);
  const data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}
async function guarded(fn) {
  try { return await fn(); } catch (err) { setStatus(`error: ${err.message}`, true); return undefined; }
}

// -- the form ---------------------------------------------------------------------------------

function fillSelect(id, values, labels) {
  const el = $(id);
  el.innerHTML = values.map((v, i) => `<option value="${esc(v)}">${esc(labels ? labels[i] : v)}</option>`).join("");
}

function applyConfig(cfg) {
  $("#series").value = cfg.data.series;
  $("#points-per-period").value = cfg.data.points_per_period;
  $("#periods").value = cfg.data.periods;
  $("#cell").value = cfg.model.cell === "rnn" ? `rnn_${cfg.model.nonlinearity}` : cfg.model.cell;
  $("#hidden-size").value = cfg.model.hidden_size;
  $("#num-layers").value = cfg.model.num_layers;
  $("#readout").value = cfg.model.readout;
  $("#optimizer").value = cfg.train.optimizer;
  $("#lr").value = cfg.train.lr;
  $("#steps").value = cfg.train.steps;
  $("#seed").value = cfg.seed === null ? "" : cfg.seed;
  $("#engine").value = cfg.train.engine;
  $("#ensemble").value = cfg.train.ensemble ?? 1;
  $("#horizon").value = cfg.forecast.steps;
}

function intValue(id) { return parseInt($(id).value, 10); }

function formConfig() {
  const [cell, nonlinearity] = $("#cell").value.split("_");
  const cfg = {
    data: { series: $("#series").value, points_per_period: intValue("#points-per-period"), periods: intValue("#periods") },
    model: { cell, hidden_size: intValue("#hidden-size"), num_layers: intValue("#num-layers"), readout: $("#readout").value },
    train: { optimizer: $("#optimizer").value, lr: parseFloat($("#lr").value), steps: intValue("#steps"), engine: $("#engine").value,
      ensemble: intValue("#ensemble") },
  };
  if (nonlinearity) cfg.model.nonlinearity = nonlinearity;
  if (cfg.data.series === "dataset") cfg.data.dataset = $("#dataset").value;
  if (cfg.data.series === "csv" && !$("#column-label").hidden) cfg.data.column = $("#csv-column").value;
  if (cfg.data.series === "csv" && $("#csv-time-column").value) cfg.data.time_column = $("#csv-time-column").value;
  const seed = $("#seed").value.trim();
  if (seed !== "") cfg.seed = parseInt(seed, 10);
  return cfg;
}

// -- training ---------------------------------------------------------------------------------

function smoothed(xs, ys) {
  // exponential moving average of the loss, the curve a learner reads through the per-step noise
  let ema = state.ema;
  const a = state.alpha;
  const out = ys.map((y) => (ema = ema === null ? y : (1 - a) * ema + a * y));
  state.ema = ema;
  return out;
}

function addLoss(xs, ys) {
  Plotly.extendTraces("loss-chart", { x: [xs, xs], y: [ys, smoothed(xs, ys)] }, [0, 1]);
}

function resetLossChart(title, total = 1000) {
  state.ema = null;
  state.alpha = 2 / (Math.max(5, total / 50) + 1);  // an EMA spanning about 1/50 of the run
  Plotly.newPlot("loss-chart", [{ x: [], y: [], mode: "lines", name: "loss", line: { width: 1, color: "#9db5de" } },
    { x: [], y: [], mode: "lines", name: "smoothed", line: { width: 2, color: "#2463c9" } }], {
    title: { text: title, font: { size: 12 } }, margin: { l: 45, r: 10, t: 28, b: 30 },
    yaxis: { type: "log", title: { text: "loss" } }, xaxis: { title: { text: "step" } }, showlegend: false,
  }, PLOT_CONFIG);
}

async function startTraining() {
  // the preset supplies what the form does not show (rollout, batch size, schedule, ...)
  const body = { preset: state.preset || "seed", config: formConfig() };
  if (body.config.data.series === "csv") {
    if (!state.upload) { setStatus("error: choose a CSV file first (series csv)", true); return; }
    body.upload = state.upload;
    delete body.config.data.series;  // the server sets series and file for an upload
  }
  if (body.config.data.series === "dataset" && !body.config.data.dataset) {
    setStatus("error: choose a dataset first (series dataset)", true); return;
  }
  const job = await guarded(() => api("POST", "/api/train", body));
  if (!job) return;
  state.job = job.job;
  $("#train-btn").disabled = true;
  $("#stop-btn").disabled = false;
  $("#progress").value = 0;
  resetLossChart(`training (seed ${job.seed})`, job.total);
  setStatus(`training ${job.total} steps…`);
  $("#progress-text").textContent = "preparing the first step (reading the series, building the model, compiling)…";
  const began = performance.now();
  loadRuns();
  const source = new EventSource(`/api/train/${job.job}/events`);
  state.source = source;
  source.addEventListener("progress", (e) => {
    const p = JSON.parse(e.data);
    $("#progress").value = p.step / p.total;
    if (p.points.length) {
      addLoss(p.points.map((q) => q[0]), p.points.map((q) => q[1]));
      const last = p.points[p.points.length - 1][1];
      const seconds = (performance.now() - began) / 1000, rate = p.step / Math.max(1e-3, seconds);
      $("#progress-text").textContent = `step ${p.step} / ${p.total}   loss ${fmt(last)}   ` +
        `${rate >= 100 ? rate.toFixed(0) : rate.toFixed(1)} steps/s, about ${Math.ceil((p.total - p.step) / rate)} s left`;
    }
  });
  source.addEventListener("done", async (e) => {
    source.close();
    const s = JSON.parse(e.data);
    $("#train-btn").disabled = false;
    $("#stop-btn").disabled = true;
    state.job = null;
    if (s.state === "failed") {
      $("#progress-text").textContent = `failed after ${s.step} of ${s.total} steps: ${s.message}`;
      setStatus(`error: ${s.message}`, true); loadRuns(); return;
    }
    // the message already says where it stopped ("stopped after …"); else say it here
    $("#progress-text").textContent = s.message ? `${s.state}: ${s.message}` : `${s.state} after ${s.step} of ${s.total} steps`;
    await loadRuns();
    await openRun(s.run, { keepLoss: true });
    setStatus(`run ${s.run} stored (${s.state})`);
  });
  source.onerror = () => { if (source.readyState === EventSource.CLOSED && state.job) setStatus("lost the connection to the server", true); };
}

async function stopTraining() {
  if (state.job) await guarded(() => api("POST", `/api/train/${state.job}/stop`));
}

// -- a run: chart, steps, hand calculation, weights --------------------------------------------

async function openRun(id, opts = {}) {
  const run = await guarded(() => api("GET", `/api/runs/${encodeURIComponent(id)}`));
  if (!run) return;
  state.run = id;
  state.cell = run.config.model.cell;
  state.hidden = run.config.model.hidden_size;
  state.series = run.config.data.series;
  state.edits.clear();
  state.undo = [];
  state.plain = null;
  state.step = opts.step ?? null;
  $("#run-id").textContent = id;
  $("#horizon").value = run.config.forecast.steps;
  $("#win-start").value = "";
  $("#win-end").value = "";
  if (!opts.keepLoss) {
    resetLossChart(`loss of ${id}`, run.history.length);
    if (run.history.length) addLoss(run.history.map((_, i) => i + 1), run.history);
  }
  $("#hand-panel").innerHTML = '<p class="note">Click a step of the context or the forecast to see its arithmetic.</p>';
  saveUrl();
  await refreshView();
}

function saveUrl() {
  // the address holds the open run and the selected step, to share or to come back to
  const q = new URLSearchParams();
  if (state.run) q.set("run", state.run);
  if (state.run && state.step !== null) q.set("step", state.step);
  history.replaceState(null, "", q.toString() ? `#${q}` : location.pathname);
}

function closeRun() {
  // the open run is gone: nothing of it stays on screen
  state.run = null; state.view = null; state.plain = null; state.weights = null; state.hand = null; state.step = null;
  state.edits.clear(); state.undo = [];
  $("#run-id").textContent = "—";
  Plotly.purge("forecast-chart");
  delete $("#forecast-chart").dataset.bound;
  for (const id of ["#step-row", "#weights", "#network", "#edits"]) $(id).innerHTML = "";
  $("#edit-banner").hidden = true;
  $("#hand-panel").innerHTML = '<p class="note">Open a run to see its forecast and arithmetic.</p>';
  $("#undo-edit").disabled = true; $("#reset-edits").disabled = true;
  saveUrl();
}

function windowQuery() {
  const q = new URLSearchParams();
  const start = $("#win-start").value, end = $("#win-end").value, horizon = $("#horizon").value;
  if (start !== "" && end !== "") { q.set("start", start); q.set("end", end); }
  if (horizon !== "") q.set("horizon", horizon);
  return q;
}
function windowBody() {
  const q = windowQuery(), body = {};
  for (const [k, v] of q) body[k] = parseInt(v, 10);
  return body;
}

async function refreshView() {
  if (!state.run) return;
  let view, weights, hand;
  if (state.edits.size === 0) {
    view = await guarded(() => api("GET", `/api/runs/${encodeURIComponent(state.run)}/forecast?${windowQuery()}`));
    if (!view) return;
    weights = await guarded(() => api("GET", `/api/runs/${encodeURIComponent(state.run)}/weights`));
  } else {
    const body = { edits: [...state.edits.values()], ...windowBody() };
    if (state.step !== null) body.step = state.step;
    const result = await guarded(() => api("POST", `/api/runs/${encodeURIComponent(state.run)}/edit`, body));
    if (!result) return;
    view = result.chart; weights = result.weights; hand = result.explain;
  }
  state.view = view;
  if (state.edits.size === 0) state.plain = view;
  $("#win-start").value = view.window[0];
  $("#win-end").value = view.window[1];
  drawChart(view);
  drawSteps(view);
  if (weights) drawWeights(weights);
  if (state.step !== null && state.step >= view.inputs.length) state.step = null;
  drawEditBanner();
  state.hand = null;
  drawNet();
  if (hand) drawHand(hand);
  else if (state.step !== null) await showStep(state.step);
  setStatus(`run ${state.run}: window ${view.window[0]}:${view.window[1]}, horizon ${view.horizon}` +
    (state.edits.size ? `, ${state.edits.size} weight(s) edited` : ""));
}

function drawChart(view) {
  const T = view.context.length;
  const traces = [
    { x: view.baseline_index, y: view.baseline, name: "baseline", mode: "lines+markers", line: { color: "#9aa3b2" }, marker: { size: 4 } },
    { x: view.context_index, y: view.context, name: "input", mode: "markers", marker: { size: 9, color: "#2463c9" },
      customdata: view.context.map((_, i) => i) },
    { x: view.forecast_index, y: view.forecast, name: view.ensemble ? "prediction (member 0)" : "prediction", mode: "lines+markers", line: { color: "#e07b00" },
      marker: { size: 8 }, customdata: view.forecast.map((_, j) => T - 1 + j) },
  ];
  const plain = state.plain;
  if (state.edits.size && plain && plain.window[0] === view.window[0] && plain.window[1] === view.window[1]) {
    traces.push({ x: plain.forecast_index, y: plain.forecast, name: "prediction before the edits", mode: "lines",
      line: { color: "#e07b00", width: 2, dash: "dot" }, opacity: 0.35, hoverinfo: "x+y+name" });
  }
  if (view.ensemble) {  // appended after the three traces the steps refer to
    const e = view.ensemble, xs = view.forecast_index;
    traces.push({ x: xs.concat(xs.slice().reverse()), y: e.high.concat(e.low.slice().reverse()), name: `10–90 % of ${e.members} members`,
      fill: "toself", mode: "lines", line: { width: 0 }, fillcolor: "rgba(224,123,0,0.18)", hoverinfo: "skip" });
    traces.push({ x: xs, y: e.median, name: "ensemble median", mode: "lines", line: { color: "#a15600", dash: "dash" } });
  }
  const last = view.forecast_index[view.forecast_index.length - 1];
  // a long recorded series: show its end, the window with as much history before it, and the
  // forecast (double-click the chart to see it all)
  const recorded = state.series === "csv" || state.series === "dataset";
  const from = view.window[0] - (view.window[1] - view.window[0]) - 0.5;
  const range = recorded && from > 0 ? [from, last + 0.5] : undefined;
  const layout = {
    margin: { l: 45, r: 10, t: 10, b: 35 }, legend: { orientation: "h", y: 1.08 },
    xaxis: { title: { text: "index" }, range }, yaxis: { title: { text: "value" } },
    shapes: [{ type: "line", x0: view.window[1] - 0.5, x1: view.window[1] - 0.5, yref: "paper", y0: 0, y1: 1, line: { dash: "dot", color: "#666" } },
      { type: "rect", x0: view.window[0] - 0.5, x1: view.window[1] - 0.5, yref: "paper", y0: 0, y1: 1, fillcolor: "#2463c9", opacity: 0.06, line: { width: 0 } }],
  };
  Plotly.react("forecast-chart", traces, layout, PLOT_CONFIG);
  const el = $("#forecast-chart");
  if (!el.dataset.bound) {
    el.dataset.bound = "1";
    el.on("plotly_click", (ev) => {
      const point = ev.points[0];
      if (state.pick) {
        state.pick.push(Math.round(point.x));
        if (state.pick.length === 1) { setStatus(`window start ${state.pick[0]}; now click its last value`); return; }
        const [a, b] = state.pick;
        $("#win-start").value = Math.min(a, b);
        $("#win-end").value = Math.max(a, b) + 1;
        togglePick(false);
        state.step = null;
        refreshView();
      } else if (point.customdata !== undefined) {
        showStep(point.customdata);
      }
    });
  }
}

function markStep(step) {
  // a ring around the value the step reads (an input, or a prediction fed back)
  const v = state.view, el = $("#forecast-chart");
  if (!v || !el.data) return;
  const T = v.context.length;
  const x = step < T ? v.context_index[step] : v.forecast_index[step - T];
  const y = step < T ? v.context[step] : v.forecast[step - T];
  const marker = { x: [x], y: [y], name: `step t${step}`, mode: "markers", showlegend: false,
    marker: { size: 18, color: "rgba(0,0,0,0)", line: { width: 2, color: "#111" } }, hoverinfo: "skip" };
  const old = el.data.findIndex((t) => t.meta === "step-marker");
  if (old >= 0) Plotly.deleteTraces(el, old);
  marker.meta = "step-marker";
  Plotly.addTraces(el, marker);
}

function drawSteps(view) {
  const T = view.context.length;
  $("#step-row").innerHTML = view.inputs.map((x, k) => {
    const fed = k >= T;
    const title = fed ? `step ${k}: reads prediction ${k - T + 1} fed back, predicts value ${view.context_index[0] + k + 1}`
      : `step ${k}: reads input at index ${view.context_index[0] + k}`;
    return `<button type="button" data-step="${k}" class="${fed ? "fed" : ""}${k === state.step ? " active" : ""}" title="${title}">t${k}</button>`;
  }).join("");
}

async function showStep(step) {
  state.step = step;
  saveUrl();
  document.querySelectorAll("#step-row button").forEach((b) => b.classList.toggle("active", Number(b.dataset.step) === step));
  let hand;
  if (state.edits.size) {
    const body = { edits: [...state.edits.values()], ...windowBody(), step };
    const result = await guarded(() => api("POST", `/api/runs/${encodeURIComponent(state.run)}/edit`, body));
    hand = result && result.explain;
  } else {
    const q = windowQuery(); q.set("step", step);
    hand = await guarded(() => api("GET", `/api/runs/${encodeURIComponent(state.run)}/explain?${q}`));
  }
  if (hand && state.step === step) drawHand(hand);
}

function drawNet() {
  drawNetwork($("#network"), state.view, state.weights, state.hand, state.step, state.cell, (k) => showStep(k));
}

function drawEditBanner() {
  const banner = $("#edit-banner");
  banner.hidden = state.edits.size === 0;
  banner.textContent = state.edits.size ? `Edited, nothing is saved: ${[...state.edits.values()].map((e) => `${e.name}[${e.index}] = ${e.value}`).join("; ")}. ` +
    "The dotted line is the forecast before the edits." : "";
}

function renderValue(v) {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number") return `<span class="mono">${fmt(v)}</span>`;
  if (Array.isArray(v)) {
    if (v.length && Array.isArray(v[0])) return `<table>${v.map((row) => `<tr>${row.map((c) => `<td class="num">${fmt(c)}</td>`).join("")}</tr>`).join("")}</table>`;
    if (v.every((c) => typeof c === "number")) return `<span class="mono">[${v.map(fmt).join(", ")}]</span>`;
    return v.map(renderValue).join("<br>");
  }
  if (typeof v === "object") return renderTerms(v);
  return esc(v);
}
function renderTerms(obj) {
  return `<table class="terms">${Object.entries(obj).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${renderValue(v)}</td></tr>`).join("")}</table>`;
}

function vectorRow(label, values, key) {
  return `<tr><td>${label}</td>${values.map((v, i) => `<td class="num"${key ? ` data-key="${key}.${i}"` : ""}>${fmt(v)}</td>`).join("")}</tr>`;
}

function renderStep(hand) {
  if (!hand || !Array.isArray(hand.layers)) return hand ? renderTerms(hand) : "";
  let html = "";
  for (const layer of hand.layers) {
    const H = layer.h.length;
    const units = Array.from({ length: H }, (_, i) => `<th>unit ${i}</th>`).join("");
    html += `<h4>layer ${layer.layer}: input ${layer.layer === 0 ? "x<sub>t</sub>" : "h<sub>t</sub> of the layer below"} = <span class="mono">[${layer.x.map(fmt).join(", ")}]</span></h4>`;
    html += `<table class="terms" data-layer="${layer.layer}"><tr><th></th>${units}</tr>`;
    html += vectorRow("h<sub>t−1</sub>", layer.h_prev);
    if (layer.c_prev) html += vectorRow("c<sub>t−1</sub>", layer.c_prev);
    for (const term of layer.terms) {
      const g = term.name === "h" ? "" : `<sub>${term.name}</sub>`;
      html += `<tr><th colspan="${H + 1}">${term.name === "h" ? "h<sub>t</sub>" : term.name + "<sub>t</sub>"} = ${term.activation}(…)</th></tr>`;
      html += vectorRow(`W<sub>i${term.name === "h" ? "h" : term.name}</sub>·x<sub>t</sub>`, term.W_ih_x);
      html += vectorRow(`b<sub>i${term.name === "h" ? "h" : term.name}</sub>`, term.b_ih);
      html += vectorRow(`W<sub>h${term.name === "h" ? "h" : term.name}</sub>·h<sub>t−1</sub>`, term.W_hh_h);
      html += vectorRow(`b<sub>h${term.name === "h" ? "h" : term.name}</sub>`, term.b_hh);
      if (term.reset) html += vectorRow("r<sub>t</sub> (multiplies the two above)", term.reset);
      html += vectorRow("sum", term.preactivation, `l${layer.layer}.${term.name}.sum`);
      html += vectorRow(`${term.activation}(sum)${g ? " = " + term.name + "<sub>t</sub>" : ""}`, term.value, `l${layer.layer}.${term.name}.value`);
    }
    if (layer.c) { html += vectorRow("c<sub>t</sub> = f⊙c<sub>t−1</sub> + i⊙g", layer.c); html += vectorRow("tanh(c<sub>t</sub>)", layer.tanh_c); }
    html += vectorRow("<b>h<sub>t</sub></b>", layer.h, `l${layer.layer}.h`);
    html += "</table>";
  }
  return html;
}

function unitsNote(h) {
  // what the network reads is scaled; the same value in the series' units
  const v = state.view;
  if (!v || !v.scaling || v.scaling.kind === "none") return "";
  const T = v.context.length;
  const inUnits = h.step < T ? v.context[h.step] : v.forecast[h.step - T];
  return `<p class="note" data-key="units">The network sees scaled values (${esc(v.scaling.kind)} scaling fitted on the training part): ` +
    `x = ${fmt(h.hand ? h.hand.layers[0].x[0] : h.x)} here is <b>${fmt(inUnits)}</b> in the series' units.</p>`;
}

function productBlock(term, layer) {
  // W_hh (the gate's rows) beside h_{t-1} and their product, as the blog writes it
  const W = state.weights && state.weights[`weight_hh_l${layer.layer}`];
  if (!W) return "";
  const H = layer.h.length, k = layer.terms.indexOf(term);
  const rows = W.values.slice(k * H, (k + 1) * H);
  const g = term.name === "h" ? "h" : term.name;
  return `<table class="product"><tr><td>W<sub>h${g}</sub> =</td><td><table>${rows.map((r) => `<tr>${r.map((c) => `<td class="num">${c.toFixed(4)}</td>`).join("")}</tr>`).join("")}</table></td>` +
    `<td class="op">·</td><td>h<sub>t−1</sub> =</td><td><table>${layer.h_prev.map((c) => `<tr><td class="num">${c.toFixed(4)}</td></tr>`).join("")}</table></td>` +
    `<td class="op">=</td><td><table>${term.W_hh_h.map((c) => `<tr><td class="num">${c.toFixed(4)}</td></tr>`).join("")}</table></td></tr></table>`;
}

function paperBlock(p) {
  if (!p) return "";
  return `<h4>Paper precision: every weight rounded to ${p.decimals} decimals</h4><table id="paper">` +
    `<tr><td>prediction, exact weights</td><td class="num" data-key="paper.exact">${fmt(p.exact)}</td></tr>` +
    `<tr><td>prediction, weights to ${p.decimals} decimals</td><td class="num" data-key="paper.rounded">${fmt(p.rounded)}</td></tr>` +
    `<tr><td>shift</td><td class="num" data-key="paper.shift">${p.shift.toExponential(3)}</td></tr></table>` +
    `<p class="note">Why: ${esc(p.why)}.</p>`;
}

function wolframBlock(text) {
  if (!text) return "";
  return `<h4>The step in Wolfram Language (as <span class="mono">explain --format wolfram</span> writes it) ` +
    `<button type="button" id="copy-wolfram">copy</button></h4><pre class="wolfram" id="wolfram">${esc(text)}</pre>`;
}

async function copyWolfram() {
  const text = $("#wolfram").textContent;
  try { await navigator.clipboard.writeText(text); }
  catch (err) {  // no clipboard permission: select the text and copy it the old way
    const range = document.createRange(); range.selectNodeContents($("#wolfram"));
    const sel = getSelection(); sel.removeAllRanges(); sel.addRange(range); document.execCommand("copy");
  }
  setStatus("copied the Wolfram expression: paste it into Wolfram Alpha or Mathematica");
}

function drawHand(h) {
  state.hand = h;
  // the hand walk feeds back its own float64 predictions: show the number the table below uses
  const x = h.available && h.hand ? h.hand.layers[0].x[0] : h.x;
  const what = h.fed_back ? `reads the fed-back prediction x = ${fmt(x)}` : `reads x = ${fmt(x)} (series index ${h.index})`;
  let html = `<h3>step t${h.step} of ${h.steps}: ${what}, predicts value ${h.predicts_index}</h3>`;
  html += unitsNote(h);
  if (state.view && state.view.ensemble) html += `<p class="note">An ensemble of ${state.view.ensemble.members} models: the hand calculation and the weights are those of member 0.</p>`;
  if (!h.available) {
    html += `<p class="missing">${esc(h.message)}</p>`;
    html += `<table id="check"><tr><td>torch prediction</td><td class="num" data-key="framework_prediction">${fmt(h.framework.prediction)}</td></tr></table>`;
  } else {
    html += `<div class="hand-terms">${renderStep(h.hand)}</div>`;
    const l0 = h.hand.layers[0];
    html += `<h4>W<sub>hh</sub> and h<sub>t−1</sub> beside their product (layer 0)</h4>` + l0.terms.map((t) => productBlock(t, l0)).join("");
    const top = h.hand.layers[h.hand.layers.length - 1].h;
    const rule = h.readout === "unit" ? `h<sub>t</sub>[${top.length - 1}], the last hidden unit of the top layer`
      : `w·h<sub>t</sub> + b (linear readout: w = [${(h.readout_parameters["readout.weight"] || [[]])[0].map(fmt).join(", ")}], b = ${fmt((h.readout_parameters["readout.bias"] || [])[0])})`;
    html += `<p>prediction ŷ<sub>t</sub> = ${rule} = <b class="mono" data-key="hand_prediction">${fmt(h.hand_prediction)}</b></p>`;
    html += `<table id="check"><tr><th>check against</th><th>by hand</th><th>framework</th><th>|difference|</th><th>tolerance</th><th></th></tr>`;
    h.checks.forEach((c, i) => {
      html += `<tr><td>${esc(c.framework)}</td><td class="num" data-key="check.${i}.hand">${fmt(c.hand)}</td>
        <td class="num" data-key="check.${i}.reference">${fmt(c.reference)}</td><td class="num" data-key="check.${i}.difference">${c.difference.toExponential(2)}</td>
        <td class="num">${c.tolerance.toExponential(0)}</td><td class="${c.passed ? "pass" : "fail"}">${c.passed ? "pass" : "fail"}</td></tr>`;
    });
    html += "</table>";
    html += paperBlock(h.paper) + wolframBlock(h.wolfram);
  }
  html += `<p class="note">torch's h<sub>t</sub> (top layer): <span class="mono" data-key="framework_h">[${h.framework.h.map(fmt).join(", ")}]</span></p>`;
  $("#hand-panel").innerHTML = html;
  $("#hand-panel").dataset.step = h.step;
  const copy = $("#copy-wolfram");
  if (copy) copy.addEventListener("click", copyWolfram);
  markStep(h.step);
  drawNet();
}

function heatColor(v, scale) {
  const t = Math.max(-1, Math.min(1, v / (scale || 1)));
  const [r, g, b] = t >= 0 ? [255, 255 - 150 * t, 255 - 170 * t] : [255 + 170 * t, 255 + 110 * t, 255];
  return `rgb(${r | 0},${g | 0},${b | 0})`;
}

const GATES = { rnn: ["h"], lstm: ["i", "f", "g", "o"], gru: ["r", "z", "n"] };

function rowLabel(name, i) {
  // weight_ih / weight_hh stack the gates' rows in torch's order: i, f, g, o (lstm) or r, z, n (gru)
  const cell = state.cell || "rnn", H = state.hidden || 1;
  if (name.startsWith("readout")) return "ŷ";
  return `${GATES[cell][Math.floor(i / H)] || "?"}${i % H}`;
}

function drawWeights(weights) {
  state.weights = weights;
  const scale = Math.max(1e-9, ...Object.values(weights).flatMap((w) => w.values.flat()).map(Math.abs));
  $("#weights").innerHTML = Object.entries(weights).map(([name, w]) => {
    const rows = w.shape.length === 1 ? [w.values] : w.values;
    const body = rows.map((row, i) => `<tr>${w.shape.length === 2 ? `<th class="note">${rowLabel(name, i)}</th>` : ""}${row.map((v, j) => {
      const index = w.shape.length === 1 ? [j] : [i, j];
      const edited = state.edits.has(`${name}|${index}`);
      return `<td class="num${edited ? " edited" : ""}" data-name="${esc(name)}" data-index="${index}" data-value="${v}"
        style="background:${heatColor(v, scale)}" title="${esc(name)}[${index}] = ${v}">${v.toFixed(4)}</td>`;
    }).join("")}</tr>`).join("");
    return `<table class="heat" data-name="${esc(name)}"><caption>${esc(name)} <span class="note">${w.shape.join("×")}</span></caption>${body}</table>`;
  }).join("");
  $("#edits").textContent = state.edits.size ? [...state.edits.values()].map((e) => `${e.name}[${e.index}] = ${e.value}`).join("; ") : "";
  $("#reset-edits").disabled = state.edits.size === 0;
  $("#undo-edit").disabled = state.undo.length === 0;
}

function beginEdit(td) {
  if (td.querySelector("input")) return;
  const input = document.createElement("input");
  input.type = "number"; input.step = "any"; input.value = td.dataset.value; input.className = "weight-input";
  input.style.width = "6em";
  td.textContent = ""; td.appendChild(input); input.focus(); input.select();
  let done = false;
  const commit = async (apply) => {
    if (done) return; done = true;
    const value = parseFloat(input.value);
    if (apply && Number.isFinite(value)) {
      const index = td.dataset.index.split(",").map(Number);
      state.undo.push(new Map(state.edits));
      state.edits.set(`${td.dataset.name}|${index}`, { name: td.dataset.name, index, value });
      await refreshView();
    } else {
      td.textContent = Number(td.dataset.value).toFixed(4);
    }
  };
  input.addEventListener("keydown", (e) => { if (e.key === "Enter") commit(true); if (e.key === "Escape") commit(false); });
  input.addEventListener("blur", () => commit(true));
}

function togglePick(on) {
  state.pick = on ? [] : null;
  $("#pick-btn").setAttribute("aria-pressed", on ? "true" : "false");
  if (on) setStatus("click the first value of the context window on the chart");
}

// -- the catalog ------------------------------------------------------------------------------

async function loadRuns() {
  const rows = await guarded(() => api("GET", "/api/runs"));
  if (!rows) return [];
  const report = state.options.features.report;
  // trainings still running (from this tab or another) are listed first; they are stored when they end
  const live = ((await guarded(() => api("GET", "/api/train"))) || []).filter((j) => j.state === "running");
  const liveRows = live.map((j) => `<tr data-job="${esc(j.job)}"><td></td><td class="mono">training ${esc(j.job)}</td>
      <td>running</td><td>${j.step} / ${j.total}</td><td colspan="3" class="note">seed ${j.seed}; stored when it ends</td>
      <td><button type="button" class="stop-job">stop</button></td></tr>`).join("");
  $("#runs-table tbody").innerHTML = liveRows + rows.slice().reverse().map((r) => {
    const m = r.config.model, mt = r.metrics || {};
    return `<tr data-run="${esc(r.id)}"><td><input type="checkbox" class="pick-run" value="${esc(r.id)}"></td>
      <td class="mono">${esc(r.id)}</td><td>${esc(r.status)}</td><td>${r.steps}</td>
      <td>${esc(`${m.cell} ${m.hidden_size}×${m.num_layers} ${m.readout}`)}</td>
      <td class="num">${mt.one_step_mse !== undefined ? fmt(mt.one_step_mse) : ""}</td>
      <td class="num">${mt.rollout_rmse !== undefined ? fmt(mt.rollout_rmse) : ""}</td>
      <td class="num">${testMetric(mt, "mae")}</td><td class="num">${testMetric(mt, "mase")}</td>
      <td><button type="button" class="open-run">open</button>
        <button type="button" class="delete-run">delete</button>
        ${report.available ? `<a class="report-run" href="/api/runs/${encodeURIComponent(r.id)}/report" download>report</a>`
          : `<span class="note" title="${esc(report.message)}">report unavailable</span>`}</td></tr>`;
  }).join("");
  updateCompareButton();
  return rows;
}

function testMetric(metrics, key) {
  // a real series' backtest: the network's one-step score over the test part
  const m = metrics.test && metrics.test.methods && metrics.test.methods.model;
  const v = m && m.one_step ? m.one_step[key] : undefined;
  return typeof v === "number" ? fmt(v) : "";
}

function runLabel(r) { return r.name && r.name !== r.id ? `${r.name} (${r.id})` : r.id; }

function ema(ys, span) {
  const a = 2 / (span + 1);
  let e = null;
  return ys.map((y) => (e = e === null ? y : (1 - a) * e + a * y));
}

function updateCompareButton() {
  $("#compare-btn").disabled = document.querySelectorAll(".pick-run:checked").length !== 2;
}

async function compareRuns() {
  // the table lists the newest first: compare the older run (a) with the newer (b)
  const [a, b] = [...document.querySelectorAll(".pick-run:checked")].map((c) => c.value).reverse();
  const data = await guarded(() => api("GET", `/api/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`));
  if (!data) return;
  const colors = ["#2463c9", "#e07b00"];
  const diff = Object.entries(data.differences);
  let html = `<h3>${esc(a)} vs ${esc(b)}</h3><table><tr><th></th>${data.runs.map((r) => `<th class="mono">${esc(r.id)}</th>`).join("")}</tr>`;
  for (const key of ["one_step_mse", "rollout_rmse"]) html += `<tr><td>${key}</td>${data.runs.map((r) => `<td class="num">${fmt(r.metrics[key])}</td>`).join("")}</tr>`;
  html += diff.map(([k, v]) => `<tr><td>${esc(k)}</td>${v.map((x) => `<td>${esc(JSON.stringify(x))}</td>`).join("")}</tr>`).join("");
  html += `</table><p class="note">${data.same_window ? `Both forecast from the same window ${data.runs[0].chart.window.join(":")}.`
    : "The runs forecast from their own windows (their series differ)."}</p><div id="compare-forecast" class="chart"></div><div id="compare-loss" class="chart small"></div>`;
  $("#compare").innerHTML = html;
  const base = data.runs[0].chart;
  Plotly.newPlot("compare-forecast", [
    { x: base.baseline_index, y: base.baseline, name: "baseline", mode: "lines", line: { color: "#9aa3b2" } },
    ...data.runs.flatMap((r, i) => [
      { x: r.chart.context_index, y: r.chart.context, name: `input of ${runLabel(r)}`, mode: "markers", marker: { color: colors[i] } },
      { x: r.chart.forecast_index, y: r.chart.forecast, name: `prediction of ${runLabel(r)}`, mode: "lines+markers", line: { color: colors[i] } }]),
  ], { margin: { l: 45, r: 10, t: 10, b: 30 }, legend: { orientation: "h", y: -0.15 } }, PLOT_CONFIG);
  Plotly.newPlot("compare-loss", data.runs.flatMap((r, i) => [
    { y: r.history, name: `loss of ${runLabel(r)}`, mode: "lines", line: { color: colors[i], width: 1 }, opacity: 0.3 },
    { y: ema(r.history, Math.max(5, r.history.length / 50)), name: `${runLabel(r)}, smoothed`, mode: "lines", line: { color: colors[i], width: 2 } }]),
  { margin: { l: 45, r: 10, t: 10, b: 30 }, yaxis: { type: "log" }, legend: { orientation: "h", y: -0.2 } }, PLOT_CONFIG);
}

// -- start ------------------------------------------------------------------------------------

function loadPreset(name) {
  state.preset = name;
  applyConfig(state.options.presets[name]);
  setStatus(`${name} preset loaded`);
}

function bind() {
  $("#preset-seed").addEventListener("click", () => { $("#preset").value = "seed"; loadPreset("seed"); });
  $("#preset").addEventListener("change", () => loadPreset($("#preset").value));
  $("#train-btn").addEventListener("click", startTraining);
  $("#stop-btn").addEventListener("click", stopTraining);
  $("#show-btn").addEventListener("click", () => { state.step = null; refreshView(); });
  $("#pick-btn").addEventListener("click", () => togglePick(state.pick === null));
  $("#reset-edits").addEventListener("click", () => { state.undo.push(new Map(state.edits)); state.edits.clear(); refreshView(); });
  $("#undo-edit").addEventListener("click", () => { if (state.undo.length) { state.edits = state.undo.pop(); refreshView(); } });
  bindStepper();
  $("#refresh-runs").addEventListener("click", loadRuns);
  $("#dataset").addEventListener("change", () => { if ($("#dataset").value) $("#series").value = "dataset"; });
  $("#compare-btn").addEventListener("click", compareRuns);
  $("#step-row").addEventListener("click", (e) => { const b = e.target.closest("button[data-step]"); if (b) showStep(Number(b.dataset.step)); });
  $("#weights").addEventListener("click", (e) => { const td = e.target.closest("td[data-name]"); if (td) beginEdit(td); });
  $("#runs-table").addEventListener("change", (e) => { if (e.target.classList.contains("pick-run")) updateCompareButton(); });
  $("#runs-table").addEventListener("click", async (e) => {
    const jobRow = e.target.closest("tr[data-job]");
    if (jobRow && e.target.classList.contains("stop-job")) {
      await guarded(() => api("POST", `/api/train/${jobRow.dataset.job}/stop`));
      setTimeout(loadRuns, 1000);
      return;
    }
    const row = e.target.closest("tr[data-run]");
    if (!row) return;
    const id = row.dataset.run;
    if (e.target.classList.contains("open-run")) await openRun(id);
    if (e.target.classList.contains("delete-run") && confirm(`Delete run ${id}?`)) {
      if (await guarded(() => api("DELETE", `/api/runs/${encodeURIComponent(id)}`))) {
        setStatus(`deleted ${id}`);
        if (state.run === id) closeRun();
        await loadRuns();
      }
    }
  });
  $("#csv-file").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    if (!file) { state.upload = null; return; }
    const result = await guarded(async () => api("POST", "/api/uploads", await file.text(), true));
    state.upload = result ? result.upload : null;
    if (result) {
      $("#series").value = "csv";
      // several columns of numbers: the learner picks the one to forecast (and a date column)
      fillSelect("#csv-column", result.value_columns);
      $("#column-label").hidden = result.value_columns.length < 2;
      $("#csv-time-column").innerHTML = '<option value="">—</option>' + result.time_columns.map((c) => `<option value="${esc(c)}">${esc(c)}</option>`).join("");
      $("#time-column-label").hidden = result.time_columns.length === 0;
      if (result.time_columns.length) $("#csv-time-column").value = result.time_columns[0];
      setStatus(`uploaded ${file.name}: ${result.rows} rows, value columns ${result.value_columns.join(", ") || "none"}`);
    }
  });
}

async function init() {
  const options = await guarded(() => api("GET", "/api/options"));
  if (!options) return;
  state.options = options;
  const c = options.choices;
  fillSelect("#series", c["data.series"]);
  const cells = c["model.cell"].flatMap((cell) => cell === "rnn" ? c["model.nonlinearity"].map((n) => `rnn_${n}`) : [cell]);
  fillSelect("#cell", cells, cells.map((v) => v.replace("_", " ")));
  fillSelect("#readout", c["model.readout"]);
  fillSelect("#optimizer", c["train.optimizer"]);
  fillSelect("#engine", c["train.engine"]);
  const f = options.features, notes = [];
  if (f.datasets.available && options.datasets.length) {
    $("#dataset").disabled = false;
    $("#dataset").innerHTML += options.datasets.map((d) => `<option value="${esc(d)}">${esc(d)}</option>`).join("");
  } else notes.push(f.datasets.message || "No bundled datasets.");
  if (f.csv.available) $("#csv-file").disabled = false; else notes.push(f.csv.message);
  if (!f.explain.available) notes.push(f.explain.message);
  $("#data-note").textContent = notes.filter(Boolean).join(" ");
  for (const [key, id] of [["model.hidden_size", "#hidden-size"], ["model.num_layers", "#num-layers"], ["train.steps", "#steps"],
    ["forecast.steps", "#horizon"], ["train.ensemble", "#ensemble"]]) {
    $(id).max = options.limits[key];
  }
  $("#lr").max = options.limits["train.lr"];
  fillSelect("#preset", Object.keys(options.presets));
  $("#preset").value = "seed";
  state.preset = "seed";
  applyConfig(options.presets.seed);
  resetLossChart("loss");
  bind();
  const runs = await loadRuns();
  const wanted = new URLSearchParams(location.hash.slice(1));  // a shared address: its run and step
  const known = runs.find((r) => r.id === wanted.get("run"));
  const step = wanted.get("step");
  if (known) await openRun(known.id, { step: step !== null && /^\d+$/.test(step) ? Number(step) : null });
  else if (runs.length) await openRun(runs[runs.length - 1].id);
  else setStatus("no runs yet: set the controls and press Train");
  document.body.dataset.ready = "1";
}

init();
