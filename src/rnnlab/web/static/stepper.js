// rnnlab playground: training one step at a time (POST /api/steppers …): pause, one step with its
// whole account (window, loss, gradients, update, checked by hand), resume at a chosen speed, reset.
"use strict";

const stepping = { id: null, running: false, data: null, plotted: 0, loop: null };

function stepButtons() {
  const on = stepping.id !== null, done = on && stepping.data && stepping.data.step >= stepping.data.total;
  $("#step-resume").disabled = !on || stepping.running || done;
  $("#step-pause").disabled = !on || !stepping.running;
  $("#step-one").disabled = !on || stepping.running || done;
  $("#step-reset").disabled = !on;
  $("#step-store").disabled = !on || stepping.running || !stepping.data || stepping.data.step === 0;
}

async function stepperStart() {
  const cfg = formConfig();
  if (cfg.data.series === "csv" || cfg.data.series === "dataset") {
    setStatus("error: step by step follows the seed's loop over a waveform; choose a waveform series", true); return;
  }
  $("#step-text").textContent = "preparing step 0…";
  const data = await guarded(() => api("POST", "/api/steppers", { preset: state.preset || "seed", config: cfg }));
  if (!data) { $("#step-text").textContent = ""; return; }
  stepping.id = data.stepper;
  stepping.running = false;
  stepping.plotted = 0;
  resetLossChart(`step by step (seed ${data.seed})`, data.total);
  showStepper(data);
  setStatus(`step-by-step training ${data.stepper}: paused at step 0; press One step or Resume`);
}

function showStepper(data, rate) {
  stepping.data = data;
  const fresh = data.losses.filter((p) => p[0] > stepping.plotted);
  if (fresh.length) {
    addLoss(fresh.map((p) => p[0]), fresh.map((p) => p[1]));
    stepping.plotted = fresh[fresh.length - 1][0];
  }
  let text = `step ${data.step} / ${data.total}   loss ${fmt(data.loss)}`;
  if (rate) text += `   ${rate.toFixed(0)} steps/s, about ${Math.ceil((data.total - data.step) / rate)} s left`;
  if (data.message) text += ` — ${data.message}`;
  if (data.stored) text += ` — stored as run ${data.stored}`;
  $("#step-text").textContent = text;
  $("#step-text").dataset.step = data.step;
  $("#step-text").dataset.stepper = data.stepper;
  drawAccount(data);
  stepButtons();
}

const ACCOUNT_ROWS = 600;  // a bigger model's table stops there (the API has every weight)

function accountRows(last, hand) {
  // one row per weight: before, ∂L/∂θ (autograd, and by hand), the update, after
  let html = "", rows = 0;
  for (const [name, before] of Object.entries(last.before)) {
    const flat = (a) => (Array.isArray(a[0]) ? a.flat() : a);
    const b = flat(before), g = flat(last.gradients[name]), u = flat(last.update[name]);
    const gh = hand ? flat(hand.gradients[name]) : null, after = hand && hand.updated ? flat(hand.updated[name]) : null;
    const cols = Array.isArray(before[0]) ? before[0].length : 1;
    b.forEach((v, k) => {
      if (rows++ >= ACCOUNT_ROWS) return;
      const index = Array.isArray(before[0]) ? `${Math.floor(k / cols)},${k % cols}` : `${k}`;
      const cell = (col, value) => `<td class="num" data-param="${esc(name)}" data-index="${index}" data-col="${col}" data-value="${value}">${fmt(value)}</td>`;
      html += `<tr><td class="mono">${esc(name)}[${index}]</td>${cell("before", v)}${cell("grad", g[k])}` +
        (gh ? cell("grad_hand", gh[k]) : "") + `${cell("update", u[k])}${cell("after", v + u[k])}` + (after ? cell("after_hand", after[k]) : "") + "</tr>";
    });
  }
  if (rows > ACCOUNT_ROWS) html += `<tr><td colspan="7" class="note">… the first ${ACCOUNT_ROWS} of ${rows} weights</td></tr>`;
  return html;
}

function drawAccount(data) {
  const last = data.last, el = $("#step-account");
  if (!last) { el.innerHTML = ""; return; }
  const hand = last.hand;
  const [s, e] = last.window;
  let html = `<h3>training step ${last.step}: window ${s}:${e} (${e - s} values), target series[${e}] = ${fmt(last.target)}</h3>`;
  html += `<p>ŷ = ${fmt(last.prediction)}, loss L = (ŷ − y)² = <b class="mono" data-key="step-loss">${fmt(last.loss)}</b>` +
    (hand ? `; by hand ${fmt(hand.loss)}, ∂L/∂ŷ = 2(ŷ − y) = ${fmt(hand.dL_dy_hat)}. Update: ${esc(hand.rule)} with lr = ${data.lr}` : "") + "</p>";
  if (!hand) html += `<p class="note">Pause and press One step to see this step by hand (explain --backward).</p>`;
  html += `<div class="scroll" style="max-height: 22em; overflow-y: auto"><table id="step-table"><tr><th>weight</th><th>before</th><th>∂L/∂θ (autograd)</th>` +
    (hand ? "<th>∂L/∂θ by hand</th>" : "") + "<th>update</th><th>after (torch)</th>" + (hand && hand.updated ? "<th>after by hand</th>" : "") +
    `</tr>${accountRows(last, hand)}</table></div>`;
  if (hand) {
    html += "<table>" + hand.checks.map((c) => `<tr><td>${esc(c.what)}</td><td class="num">${c.difference.toExponential(2)}</td>` +
      `<td class="${c.passed ? "pass" : "fail"}">${c.passed ? "pass" : "fail"}</td></tr>`).join("") + "</table>";
  }
  el.innerHTML = html;
  el.dataset.window = `${s},${e}`;
  el.dataset.step = last.step;
}

async function stepperCall(path, body) {
  return guarded(() => api("POST", `/api/steppers/${stepping.id}/${path}`, body));
}

async function stepperOne() {
  if (!stepping.id || stepping.running) return;
  if (stepping.loop) await stepping.loop;  // a pause lets the steps in flight land first
  const data = await stepperCall("step", { count: 1, detail: true });
  if (data) showStepper(data);
}

function stepperResume() {
  if (!stepping.id || stepping.running) return;
  stepping.running = true;
  stepButtons();
  stepping.loop = runSteps();
}

async function runSteps() {
  while (stepping.running) {
    const count = parseInt($("#step-speed").value, 10);
    const started = performance.now();
    const data = await stepperCall("step", { count });
    if (!data) { stepping.running = false; break; }
    const taken = data.step - (stepping.data ? stepping.data.step : 0);
    const rate = taken / Math.max(1e-3, (performance.now() - started) / 1000);
    if (data.step >= data.total || data.message) stepping.running = false;
    showStepper(data, stepping.running ? rate : null);
    await new Promise((resolve) => setTimeout(resolve, 60));
  }
  stepButtons();
  stepping.loop = null;
}

function stepperPause() { stepping.running = false; stepButtons(); }

async function stepperReset() {
  stepping.running = false;
  if (stepping.loop) await stepping.loop;
  const data = await stepperCall("reset");
  if (!data) return;
  stepping.plotted = 0;
  resetLossChart(`step by step (seed ${data.seed})`, data.total);
  showStepper(data);
}

async function stepperStore() {
  if (stepping.loop) await stepping.loop;
  const data = await stepperCall("store");
  if (!data) return;
  showStepper(data);
  await loadRuns();
  await openRun(data.stored, { keepLoss: true });
}

function bindStepper() {
  $("#step-start").addEventListener("click", stepperStart);
  $("#step-one").addEventListener("click", stepperOne);
  $("#step-resume").addEventListener("click", stepperResume);
  $("#step-pause").addEventListener("click", stepperPause);
  $("#step-reset").addEventListener("click", stepperReset);
  $("#step-store").addEventListener("click", stepperStore);
}
