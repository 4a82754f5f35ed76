// Countersign dashboard: a little progressive enhancement. Every page works without it.
"use strict";

function typeOf(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

// A subset of JSON Schema (type, enum, const, required, properties, additionalProperties, items,
// bounds, lengths; never `pattern`, see below) checked in the browser; the server checks the full schema.
function schemaProblems(value, schema, path, out) {
  if (!schema || typeof schema !== "object") return out;
  const where = path || "args";
  // A masked secret (bot/redaction.py) stands for the stored value: the server puts that back, then checks it.
  if (typeof value === "string" && value.startsWith("***hmac-sha256:")) return out;
  if (schema.type) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    const actual = typeOf(value);
    const ok = types.some((t) => t === actual || (t === "number" && actual === "integer"));
    if (!ok) { out.push(where + ": must be " + types.join(" or ")); return out; }
  }
  if (schema.enum && !schema.enum.some((v) => JSON.stringify(v) === JSON.stringify(value))) {
    out.push(where + ": must be one of " + schema.enum.map((v) => JSON.stringify(v)).join(", "));
  }
  if ("const" in schema && JSON.stringify(schema.const) !== JSON.stringify(value)) {
    out.push(where + ": must be " + JSON.stringify(schema.const));
  }
  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum) out.push(where + ": must be ≥ " + schema.minimum);
    if (typeof schema.maximum === "number" && value > schema.maximum) out.push(where + ": must be ≤ " + schema.maximum);
    if (typeof schema.exclusiveMinimum === "number" && value <= schema.exclusiveMinimum) out.push(where + ": must be > " + schema.exclusiveMinimum);
    if (typeof schema.exclusiveMaximum === "number" && value >= schema.exclusiveMaximum) out.push(where + ": must be < " + schema.exclusiveMaximum);
  }
  if (typeof value === "string") {
    if (typeof schema.minLength === "number" && value.length < schema.minLength) out.push(where + ": too short");
    if (typeof schema.maxLength === "number" && value.length > schema.maxLength) out.push(where + ": too long");
    // No `pattern` here: it is the agent's regular expression, and JavaScript's RegExp has no time limit,
    // so one crafted pattern would freeze the approver's tab on every keystroke (and with it the Reject
    // button). The server checks patterns off its event loop within a time budget and shows the result.
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === "number" && value.length < schema.minItems) out.push(where + ": too few items");
    if (typeof schema.maxItems === "number" && value.length > schema.maxItems) out.push(where + ": too many items");
    if (schema.items && typeof schema.items === "object") value.forEach((item, i) => schemaProblems(item, schema.items, where + "[" + i + "]", out));
  }
  if (typeOf(value) === "object") {
    (schema.required || []).forEach((name) => { if (!(name in value)) out.push(where + "." + name + ": is required"); });
    const props = schema.properties || {};
    Object.keys(value).forEach((name) => {
      if (name in props) schemaProblems(value[name], props[name], where + "." + name, out);
      else if (schema.additionalProperties === false) out.push(where + "." + name + ": is not allowed");
      else if (schema.additionalProperties && typeof schema.additionalProperties === "object") schemaProblems(value[name], schema.additionalProperties, where + "." + name, out);
    });
  }
  return out;
}

function setUpModify() {
  const form = document.getElementById("modify-form");
  if (!form) return;
  const editor = document.getElementById("args-editor");
  const problem = document.getElementById("args-problem");
  const schemaNode = document.getElementById("args-schema");
  const schema = schemaNode ? JSON.parse(schemaNode.textContent) : null;
  function check() {
    let value;
    try { value = JSON.parse(editor.value); }
    catch (e) { return ["not valid JSON: " + e.message]; }
    if (typeOf(value) !== "object") return ["the arguments must be a JSON object"];
    return schema ? schemaProblems(value, schema, "args", []) : [];
  }
  function show(problems) {
    problem.textContent = problems.join("; ");
    editor.setAttribute("aria-invalid", problems.length ? "true" : "false");
  }
  editor.addEventListener("input", () => show(check()));
  form.addEventListener("submit", (event) => {
    const problems = check();
    show(problems);
    if (problems.length) { event.preventDefault(); editor.focus(); }
  });
}

function needReason(form) {
  form.addEventListener("submit", (event) => {
    const button = event.submitter;
    const comment = form.querySelector("input[name=comment]");
    if (button && button.value === "reject" && comment && !comment.value.trim()) {
      event.preventDefault();
      comment.setCustomValidity("Say why you reject it.");
      comment.reportValidity();
      comment.addEventListener("input", () => comment.setCustomValidity(""), { once: true });
    }
  });
}

function setUpQueue() {
  const form = document.getElementById("batch");
  if (!form) return;
  needReason(form);
  const selectPage = document.getElementById("select-page");
  selectPage.addEventListener("change", () => {
    form.querySelectorAll("tbody input[name=id]").forEach((box) => { box.checked = selectPage.checked; });
  });
  form.addEventListener("submit", (event) => {
    const all = document.getElementById("scope-all");
    if (all && all.checked && !window.confirm("Decide every request matching the filter?")) event.preventDefault();
  });
  if (form.dataset.live !== "1" || !window.EventSource) return;
  let timer = null;
  async function refresh() {
    timer = null;
    const url = new URL(window.location.href);
    url.searchParams.set("partial", "1");
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!response.ok) return;
    const holder = document.createElement("table");
    holder.innerHTML = await response.text();
    const fresh = holder.querySelector("tbody");
    const rows = document.getElementById("rows");
    if (!fresh || !rows) return;
    const checked = new Set(Array.from(rows.querySelectorAll("input[name=id]:checked")).map((b) => b.value));
    fresh.querySelectorAll("input[name=id]").forEach((box) => { box.checked = checked.has(box.value); });
    rows.replaceWith(fresh);
    document.getElementById("matched").textContent = fresh.dataset.matched;
    document.querySelectorAll(".matched-count").forEach((node) => { node.textContent = fresh.dataset.matched; });
    // "All matching" covers what the person has now been shown, and nothing newer.
    document.getElementById("upto").value = fresh.dataset.upto;
  }
  const source = new EventSource("/events");
  source.addEventListener("change", (event) => {
    const change = JSON.parse(event.data);
    if (change.status && change.status !== "pending") {
      const row = document.querySelector('#rows tr[data-id="' + CSS.escape(change.id) + '"]');
      if (row) row.remove();
    }
    if (!timer) timer = window.setTimeout(refresh, 1000);  // at most one re-read a second per open queue
  });
}

// Keyboard: a approve, r reject, m modify on a request; j/k move through the queue (or to the next pending
// request from a request page). Never while typing in a field.
function setUpKeys() {
  const rows = () => Array.from(document.querySelectorAll("#rows tr[data-id]"));
  let current = -1;
  function mark(index) {
    const list = rows();
    if (!list.length) return;
    current = Math.max(0, Math.min(list.length - 1, index));
    list.forEach((row, i) => row.classList.toggle("current", i === current));
    const link = list[current].querySelector("a.open");
    if (link) link.focus();
  }
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) return;
    const click = (id) => { const node = document.getElementById(id); if (node) { event.preventDefault(); node.click(); } };
    if (event.key === "a") click("approve-button");
    else if (event.key === "r") {
      const comment = document.getElementById("comment");
      const bar = document.getElementById("decide-bar");
      if (comment && bar && bar.dataset.reason === "1" && !comment.value.trim()) { event.preventDefault(); comment.focus(); }
      else click("reject-button");
    } else if (event.key === "m") {
      const box = document.getElementById("modify-box");
      if (box) { event.preventDefault(); box.open = true; document.getElementById("args-editor").focus(); }
    } else if (event.key === "j" || event.key === "k") {
      if (rows().length) { event.preventDefault(); mark(current + (event.key === "j" ? 1 : -1)); }
      else if (event.key === "j") click("key-next");
      else if (event.key === "k") { event.preventDefault(); window.history.back(); }
    } else if (event.key === "x" && current >= 0) {
      const box = rows()[current].querySelector("input[name=id]");
      if (box) { event.preventDefault(); box.checked = !box.checked; }
    }
  });
  const filters = document.getElementById("filters-box");
  if (filters && window.matchMedia("(min-width: 641px)").matches) filters.open = true;
  const modifyLink = document.getElementById("modify-link");
  if (modifyLink) modifyLink.addEventListener("click", () => { const box = document.getElementById("modify-box"); if (box) box.open = true; });
}

document.addEventListener("DOMContentLoaded", () => {
  setUpKeys();
  setUpQueue();
  setUpModify();
  document.querySelectorAll("form.stack").forEach((form) => { if (form.id !== "modify-form") needReason(form); });
});
