// jsim teach: sliders -> /api/simulate (mean-field) -> plotly charts. Plain JavaScript, no build step.
"use strict";

const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
  "#9c755f", "#bab0ac"];
const CONFIG = { displayModeBar: false, responsive: true };
const METRICS = ["converted", "new_customers", "retained", "purchases", "revenue", "gross_profit", "cost"];

const state = {
  info: null, values: {}, current: null, pinned: null, noise: null, day: 0, timer: null,
  seq: 0, concealed: false, redraws: [], ready: null,
};
window.jsimTeach = state; // read by the browser tests

const $ = (id) => document.getElementById(id);

async function api(path) {
  const response = await fetch(path);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function decimals(step) {
  const text = String(step);
  return text.includes(".") ? text.split(".")[1].length : 0;
}

function changedSets(values) {
  // only the sliders moved away from the file's value: the same --set texts the command line would take
  return state.info.sliders
    .filter((s) => Number(values[s.key]) !== Number(s.value))
    .map((s) => `${s.key}=${values[s.key]}`);
}

function simulateUrl(values, extra) {
  const params = new URLSearchParams();
  for (const text of changedSets(values)) params.append("set", text);
  for (const [k, v] of Object.entries(extra || {})) params.append(k, v);
  const q = params.toString();
  return "/api/simulate" + (q ? "?" + q : "");
}

function buildSliders() {
  const box = $("sliders");
  box.textContent = "";
  state.info.sliders.forEach((s, i) => {
    const div = document.createElement("div");
    div.className = "slider";
    const id = `slider-${i}`;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = s.label + " ";
    const out = document.createElement("output");
    out.id = `${id}-value`;
    out.htmlFor = id;
    out.textContent = s.value;
    label.appendChild(out);
    const input = document.createElement("input");
    Object.assign(input, { type: "range", id, min: s.min, max: s.max, step: s.step, value: s.value });
    input.dataset.key = s.key;
    input.setAttribute("aria-valuetext", String(s.value));
    const onMove = () => {
      const t0 = performance.now();
      const value = Number(Number(input.value).toFixed(decimals(s.step)));
      state.values[s.key] = value;
      out.textContent = value;
      input.setAttribute("aria-valuetext", String(value));
      refresh(t0, s.key);
    };
    input.addEventListener("input", onMove);
    input.addEventListener("change", onMove);
    div.append(label, input);
    box.appendChild(div);
  });
}

async function refresh(t0, key) {
  const seq = ++state.seq;
  const values = { ...state.values };
  try {
    const result = await api(simulateUrl(values));
    if (seq !== state.seq) return; // a later move has been asked for: draw that one
    state.current = { values, result };
    state.noise = null;
    $("noise-status").textContent = "";
    $("error").textContent = "";
    if (state.info.concealOnChange && $("predict-mode").checked) conceal(true);
    if (!state.timer) state.day = result.daily.days;
    setupDaySlider();
    await render();
    state.redraws.push({ ms: performance.now() - t0, key: key || null, value: key ? values[key] : null });
  } catch (err) {
    if (seq === state.seq) $("error").textContent = err.message;
  }
}

function occupancyTraces(result, day, group) {
  const d = result.daily;
  const x = [...Array(day + 1).keys()];
  return d.stages.map((name, s) => ({
    x, y: x.map((t) => d.occupancy[0][t][s]), name, type: "scatter", mode: "lines",
    stackgroup: group, line: { width: 0.5, color: PALETTE[s % PALETTE.length] },
    hovertemplate: `${name}: %{y:.0f}<extra>day %{x}</extra>`,
  }));
}

function axisMax(result) {
  const occ = result.daily.occupancy[0];
  return Math.max(1, ...occ.map((row) => row.reduce((a, b) => a + b, 0))) * 1.02;
}

function funnelLayout(title, result) {
  return {
    title: { text: title, font: { size: 14 } }, margin: { l: 50, r: 10, t: 36, b: 36 },
    xaxis: { title: "day", range: [0, result.daily.days] },
    yaxis: { title: "customers", range: [0, axisMax(result)] },
    legend: { orientation: "h", y: -0.2 }, showlegend: true,
  };
}

function flowsTraces(result, day) {
  const d = result.daily;
  const x = [...Array(day + 1).keys()];
  return d.sources.map((name, k) => ({
    x, y: x.map((t) => d.moves_by_source[0][t][k]), name, type: "bar",
    marker: { color: PALETTE[(k + 3) % PALETTE.length] },
  }));
}

function routeTraces(result, day) {
  const d = result.daily;
  const labels = d.routes.map((r) => `${r.from} → ${r.to}`);
  const totals = d.routes.map((_, x) => {
    let sum = 0;
    for (let t = 0; t <= day; t++) sum += d.moves_by_route[0][t][x];
    return sum;
  });
  return d.sources.map((name, k) => {
    const idx = d.routes.map((r, x) => (r.source === name ? x : -1)).filter((x) => x >= 0);
    return {
      type: "bar", orientation: "h", name, y: idx.map((x) => labels[x]), x: idx.map((x) => totals[x]),
      marker: { color: PALETTE[(k + 3) % PALETTE.length] },
    };
  });
}

function stageTraces(day) {
  const stage = state.info.predict;
  const traces = [];
  const line = (result, name, dash, upto) => {
    const d = result.daily;
    const s = d.stages.indexOf(stage);
    const x = [...Array(upto + 1).keys()];
    return { x, y: x.map((t) => d.occupancy[0][t][s]), name, mode: "lines", line: { width: 3, dash } };
  };
  if (state.noise) {
    const d = state.noise.daily;
    const s = d.stages.indexOf(stage);
    d.occupancy.forEach((rep, r) => traces.push({
      x: rep.map((_, t) => t), y: rep.map((row) => row[s]), mode: "lines", name: `random run ${r + 1}`,
      line: { width: 1, color: "rgba(120,120,120,0.6)" }, showlegend: r === 0,
    }));
  }
  if (state.pinned) traces.push(line(state.pinned.result, "A (pinned)", "dash", state.pinned.result.daily.days));
  traces.push(line(state.current.result, "now (expected)", "solid", day));
  const guess = Number($("prediction").value);
  if ($("prediction").value !== "" && Number.isFinite(guess)) {
    traces.push({
      x: [state.current.result.daily.days], y: [guess], mode: "markers", name: "my prediction",
      marker: { symbol: "star", size: 16, color: "#e15759" },
    });
  }
  return traces;
}

function render() {
  const cur = state.current.result;
  const day = Math.min(state.day, cur.daily.days);
  $("day-label").textContent = `day ${day} of ${cur.daily.days}`;
  const draws = [
    Plotly.react("funnel", occupancyTraces(cur, day, "now"),
      funnelLayout(state.pinned ? "B: now, customers per stage" : "Customers per stage (the funnel filling and leaking)", cur), CONFIG),
    Plotly.react("flows", flowsTraces(cur, day), {
      title: { text: "Moves per day, by source (why customers moved)", font: { size: 14 } },
      barmode: "stack", margin: { l: 50, r: 10, t: 36, b: 36 }, xaxis: { title: "day", range: [-0.5, cur.daily.days + 0.5] },
      yaxis: { title: "moves" }, legend: { orientation: "h", y: -0.2 },
    }, CONFIG),
    Plotly.react("routes", routeTraces(cur, day), {
      title: { text: `Moves so far by route and source (to day ${day})`, font: { size: 14 } },
      barmode: "stack", margin: { l: 150, r: 10, t: 36, b: 36 }, xaxis: { title: "moves" },
      yaxis: { automargin: true }, legend: { orientation: "h", y: -0.2 },
    }, CONFIG),
    Plotly.react("stage", stageTraces(day), {
      title: { text: `Customers in ${state.info.predict}`, font: { size: 14 } },
      margin: { l: 50, r: 10, t: 36, b: 36 }, xaxis: { title: "day", range: [0, cur.daily.days] },
      yaxis: { title: "customers", rangemode: "tozero" }, legend: { orientation: "h", y: -0.2 },
    }, CONFIG),
  ];
  if (state.pinned) {
    const a = state.pinned.result;
    draws.push(Plotly.react("funnel-a", occupancyTraces(a, Math.min(day, a.daily.days), "a"),
      funnelLayout("A (pinned): " + describe(state.pinned.values), a), CONFIG));
  }
  renderMetrics();
  return Promise.all(draws);
}

function describe(values) {
  const sets = changedSets(values);
  return sets.length ? sets.map((t) => t.split(".").slice(-2).join(".")).join(", ") : "as in the file";
}

function fmt(x) {
  if (x === null || x === undefined) return "–";
  return Math.abs(x) >= 100 ? Math.round(x).toLocaleString("en") : x.toFixed(2);
}

function metricRows(result) {
  const m = result.summary.metrics;
  const rows = METRICS.filter((k) => k in m).map((k) => [k, m[k].mean]);
  const stage = state.info.predict;
  rows.push([`${stage} on the last day`, result.summary.stages_at_horizon[stage].mean]);
  return rows;
}

function renderMetrics() {
  const body = $("metrics").querySelector("tbody");
  body.textContent = "";
  const now = metricRows(state.current.result);
  const a = state.pinned ? metricRows(state.pinned.result) : null;
  document.querySelectorAll(".a-col").forEach((el) => { el.hidden = !a; });
  now.forEach(([name, value], i) => {
    const tr = document.createElement("tr");
    const cells = [name, ...(a ? [fmt(a[i][1])] : []), fmt(value)];
    cells.forEach((text, j) => {
      const td = document.createElement(j === 0 ? "th" : "td");
      if (j === 0) td.scope = "row";
      td.textContent = text;
      tr.appendChild(td);
    });
    body.appendChild(tr);
  });
}

function setupDaySlider() {
  const slider = $("day");
  slider.max = state.current.result.daily.days;
  slider.value = state.day;
}

function stop() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
}

function step() {
  const last = state.current.result.daily.days;
  state.day = Math.min(last, state.day + 1);
  $("day").value = state.day;
  render();
  if (state.day >= last) stop();
}

function play() {
  stop();
  if (state.day >= state.current.result.daily.days) state.day = 0;
  state.timer = setInterval(step, Number($("speed").value));
}

function conceal(on) {
  state.concealed = on;
  $("results").classList.toggle("concealed", on);
  $("hidden-note").hidden = !on;
  if (on) $("verdict").textContent = "";
}

function reveal() {
  const text = $("prediction").value;
  if (text === "" || !Number.isFinite(Number(text))) {
    $("verdict").textContent = "Enter your prediction first.";
    $("prediction").focus();
    return;
  }
  conceal(false);
  const guess = Number(text);
  const actual = state.current.result.summary.stages_at_horizon[state.info.predict].mean;
  const off = actual ? Math.round((100 * (guess - actual)) / actual) : 0;
  $("verdict").textContent = `You predicted ${fmt(guess)}; the model expects ${fmt(actual)} ` +
    `(${off === 0 ? "spot on" : `${Math.abs(off)}% too ${off > 0 ? "high" : "low"}`}). Watch it unfold.`;
  state.day = 0;
  play();
}

async function noise() {
  const reps = Math.max(1, Math.min(20, Number($("reps").value) || 5));
  $("noise-status").textContent = `running ${reps} random runs...`;
  try {
    state.noise = await api(simulateUrl(state.current.values, { engine: "fast", reps, seed: Date.now() % 100000 }));
    const s = state.noise.summary.stages_at_horizon[state.info.predict];
    $("noise-status").textContent = `${reps} random runs: ${state.info.predict} on the last day ranges ` +
      `${fmt(Math.min(...state.noise.daily.occupancy.map((rep) => rep[rep.length - 1][state.noise.daily.stages.indexOf(state.info.predict)])))}` +
      `–${fmt(Math.max(...state.noise.daily.occupancy.map((rep) => rep[rep.length - 1][state.noise.daily.stages.indexOf(state.info.predict)])))}` +
      ` (mean ${fmt(s.mean)}).`;
    await render();
  } catch (err) {
    $("noise-status").textContent = "";
    $("error").textContent = err.message;
  }
}

function pin() {
  state.pinned = { values: { ...state.current.values }, result: state.current.result };
  $("funnel-a").hidden = false;
  $("unpin").hidden = false;
  render();
  window.dispatchEvent(new Event("resize"));
}

function unpin() {
  state.pinned = null;
  $("funnel-a").hidden = true;
  $("unpin").hidden = true;
  Plotly.purge("funnel-a");
  render();
  window.dispatchEvent(new Event("resize"));
}

function reset() {
  state.info.sliders.forEach((s, i) => {
    state.values[s.key] = s.value;
    $(`slider-${i}`).value = s.value;
    $(`slider-${i}-value`).textContent = s.value;
  });
  refresh(performance.now(), null);
}

async function start() {
  state.info = await api("/api/scenario");
  state.info.concealOnChange = true;
  $("title").textContent = `jsim teach: ${state.info.name}`;
  $("description").textContent = state.info.description;
  $("question").textContent = state.info.question;
  document.querySelectorAll(".predict-stage").forEach((el) => { el.textContent = state.info.predict; });
  state.info.sliders.forEach((s) => { state.values[s.key] = s.value; });
  buildSliders();
  $("play").addEventListener("click", play);
  $("pause").addEventListener("click", stop);
  $("step").addEventListener("click", () => { stop(); step(); });
  $("speed").addEventListener("change", () => { if (state.timer) play(); });
  $("day").addEventListener("input", () => { stop(); state.day = Number($("day").value); render(); });
  $("pin").addEventListener("click", pin);
  $("unpin").addEventListener("click", unpin);
  $("reset").addEventListener("click", reset);
  $("reveal").addEventListener("click", reveal);
  $("noise").addEventListener("click", noise);
  $("prediction").addEventListener("change", () => render());
  $("predict-mode").addEventListener("change", (e) => conceal(e.target.checked));
  await refresh(performance.now(), null);
}

state.ready = start().catch((err) => { $("error").textContent = err.message; });
