// persona-rag web page: plain JavaScript, no build step, nothing loaded from elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { personas: [], stages: [], key: localStorage.getItem("persona-rag-key") || "", threads: {} };

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function showError(msg) { $("error").textContent = msg || ""; }

async function api(path, opts = {}) {
  const headers = Object.assign({ "Content-Type": "application/json" }, opts.headers || {});
  if (state.key) headers.Authorization = "Bearer " + state.key;
  const res = await fetch(path, Object.assign({}, opts, { headers }));
  if (res.status === 401) {
    $("key-box").hidden = false;
    throw new Error("this server needs its API key: enter it at the top left");
  }
  if (!res.ok) {
    let msg = res.status + " " + res.statusText;
    try { msg = (await res.json()).error.message; } catch (e) { /* not JSON */ }
    throw new Error(msg);
  }
  return res;
}

function persona() { return $("persona").value; }
function stage() { return state.stages[Number($("stage").value)]; }

function showStage() {
  const s = stage();
  if (!s) return;
  $("stage-label").textContent = s.label;
  $("stage-model").textContent = persona() + "@" + s.key;
  $("teach").textContent = "Teach (from " + s.label + ")";
}

async function loadPersonas() {
  const info = await (await api("/v1/personas")).json();
  state.personas = info.personas;
  $("universe").textContent = info.universe.name;
  const select = $("persona");
  select.innerHTML = "";
  for (const p of info.personas) {
    const opt = el("option", "", p.tuned ? p.name + " (tuned)" : p.name);
    opt.value = p.id;
    select.appendChild(opt);
  }
  await choosePersona();
}

async function choosePersona() {
  const p = state.personas.find((x) => x.id === persona());
  const model = p && p.tuned ? "Tuned: answers with its own adapter. " : "Base model (not tuned). ";
  $("persona-summary").textContent = p ? model + p.summary : "";
  $("persona-summary").title = p ? p.summary : "";
  const info = await (await api("/v1/personas/" + encodeURIComponent(persona()))).json();
  state.stages = info.stages;
  const slider = $("stage");
  slider.max = String(state.stages.length - 1);
  slider.value = String(info.default_stage.ordinal);
  $("stage-first").textContent = state.stages[0].label;
  $("stage-last").textContent = state.stages[state.stages.length - 1].label;
  showStage();
}

function threadId() {
  // One conversation per persona and point in time: moving the slider starts afresh.
  const key = persona() + "@" + stage().key;
  if (!state.threads[key]) state.threads[key] = "web-" + Math.random().toString(36).slice(2, 12);
  return state.threads[key];
}

function renderResult(box, result) {
  const text = box.querySelector(".text");
  text.textContent = result.answer;
  text.classList.remove("draft");
  const meta = el("div", "meta");
  const badge = el("span", "badge verdict " + (result.verdict || "unknown"), result.verdict || "unknown");
  badge.title = result.verdict_reason || "";
  meta.appendChild(badge);
  meta.appendChild(el("span", "answered-by", "answered by: " + (result.answered_by || "model")));
  meta.appendChild(el("span", "muted", result.stage.label));
  box.appendChild(meta);
  for (const notice of result.notices || []) box.appendChild(el("div", "small muted", notice));
  const sources = el("details", "sources");
  sources.appendChild(el("summary", "", (result.sources || []).length + " sources"));
  const list = el("ol");
  for (const s of result.sources || []) {
    list.appendChild(el("li", "", "[stage " + s.stage + ", " + s.score.toFixed(2) + "] " + s.text));
  }
  sources.appendChild(list);
  box.appendChild(sources);
  box.dataset.done = "1";
  box.dataset.verdict = result.verdict || "unknown";
}

function handleEvent(box, event, data) {
  const text = box.querySelector(".text");
  if (event === "token") { text.textContent += data.text; }
  else if (event === "reset") { text.textContent = ""; }
  else if (event === "result") { renderResult(box, data); }
  else if (event === "error") { throw new Error(data.error.message); }
}

async function ask(ev) {
  ev.preventDefault();
  const question = $("question").value.trim();
  if (!question) return;
  showError("");
  const s = stage();
  const log = $("log");
  log.appendChild(el("div", "msg user", question));
  const box = el("div", "msg persona");
  box.appendChild(el("div", "who", $("persona").selectedOptions[0].textContent + ", " + s.label));
  box.appendChild(el("div", "text draft", ""));
  log.appendChild(box);
  $("ask").disabled = true;
  $("question").value = "";
  try {
    const res = await api("/v1/ask", {
      method: "POST",
      body: JSON.stringify({ persona: persona(), question, stage: s.key, thread_id: threadId(), stream: true }),
    });
    // Server-Sent Events over a POST: read the body and split it into events.
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = "message";
        let data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (data) handleEvent(box, event, JSON.parse(data));
      }
      log.scrollTop = log.scrollHeight;
    }
  } catch (err) {
    box.querySelector(".text").textContent = "";
    box.dataset.done = "error";
    showError(err.message);
  } finally {
    $("ask").disabled = false;
  }
}

async function showHistory(id) {
  const rows = await (await api("/v1/memory/records/" + encodeURIComponent(id) + "/history")).json();
  const list = $("history");
  list.innerHTML = "";
  for (const r of rows) {
    const span = "stages " + r.known_from + (r.valid_to === null ? " on" : "-" + (r.valid_to - 1));
    list.appendChild(el("li", "", "v" + r.version + " (" + span + "): " + r.text));
  }
}

async function teach() {
  const text = $("teach-text").value.trim();
  if (!text) return;
  showError("");
  try {
    const res = await api("/v1/memory/" + encodeURIComponent(persona()) + "/facts", {
      method: "POST",
      body: JSON.stringify({ stage: stage().key, text, kind: $("teach-kind").value }),
    });
    const added = await res.json();
    $("teach-result").textContent = "Taught as " + added.id + ", known from stage " + added.stage + ".";
    $("teach-text").value = "";
    await showHistory(added.id);
  } catch (err) {
    showError(err.message);
  }
}

async function start() {
  $("stage").addEventListener("input", showStage);
  $("persona").addEventListener("change", () => choosePersona().catch((e) => showError(e.message)));
  $("ask-form").addEventListener("submit", ask);
  $("teach").addEventListener("click", teach);
  $("save-key").addEventListener("click", () => {
    state.key = $("api-key").value.trim();
    localStorage.setItem("persona-rag-key", state.key);
    $("key-box").hidden = true;
    loadPersonas().catch((e) => showError(e.message));
  });
  try {
    const health = await (await fetch("/health")).json();
    $("server-note").textContent = health.model + (health.read_only ? " · read-only" : "");
    if (health.read_only) $("teach-box").hidden = true;
    if (health.auth && !state.key) $("key-box").hidden = false;
    await loadPersonas();
    document.body.dataset.ready = "1";
  } catch (err) {
    showError(err.message);
  }
}

start();
