"use strict";
// The baton console: reads /api/events (live), /api/log and /api/why, posts /api/op/….
// Everything shown is built with textContent (names come from the cluster file).
(function () {
  const $ = (id) => document.getElementById(id);
  const MAX_ROWS = 2000;
  let doc = null;          // the last status document
  let operator = false;    // the daemon accepts operations (web_token_file set)
  let events = [];         // timeline entries {seq?, at_ms, event, severity, text, because}

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null) e.setAttribute(k, v);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
    return e;
  }
  const GOOD = ["online", "ok", "normal", "alive", "syncing"];
  const WARN = ["suspended", "starting", "stopping", "stopped", "degraded", "rebuilding", "offline"];
  function badge(word) {
    const w = String(word);
    const cls = GOOD.includes(w) ? "s-ok" : WARN.includes(w) ? "s-warn" : "s-bad";
    return el("span", { class: "state " + cls, "data-state": w }, w);
  }
  function table(id, head, rows) {
    const t = $(id);
    t.replaceChildren(el("tr", {}, head.map((h) => el("th", {}, h))), ...rows);
    if (rows.length === 0) t.append(el("tr", {}, el("td", { colspan: head.length, class: "muted" }, "none")));
  }
  function fmtTime(ms) {
    const d = new Date(ms);
    return isNaN(d) ? String(ms) : d.toISOString().replace("T", " ").slice(0, 23);
  }
  function opButton(label, op, body, confirmExtra) {
    return el("button", { class: "op", "data-op": op, "data-target": body.target || "",
      onclick: () => ask(op, body, confirmExtra) }, label);
  }

  // ---- health -------------------------------------------------------------------
  function problems(d) {
    const p = [];
    if (d.state !== "online") p.push(`${d.server} is ${d.state}`);
    if (d.cluster_suspended) p.push("the cluster is suspended");
    for (const [s, st] of Object.entries(d.peers || {})) if (st !== "online" && st !== "syncing") p.push(`server ${s} is ${st}`);
    for (const x of d.paths || []) if (!x.alive) p.push(`path ${x.path} to ${x.peer} is silent`);
    for (const [g, at] of Object.entries(d.locations || {}))
      for (const [s, st] of Object.entries(at)) if (st === "error") p.push(`group ${g} is in error on ${s}`);
    for (const [g, st] of Object.entries(d.groups || {})) if (st === "error") p.push(`group ${g} is in error here`);
    for (const [m, st] of Object.entries(d.monitors || {})) if (st === "error") p.push(`monitor ${m} reports an error`);
    for (const [m, st] of Object.entries(d.mirrors || {})) if (st !== "normal") p.push(`mirror ${m} is ${st}`);
    for (const u of d.unconfirmed || []) if (u.overdue) p.push(`${u.server} did not confirm the ${u.op}`);
    return p;
  }
  function setHealth(kind, text) {
    const b = $("banner");
    b.className = "banner " + kind;
    b.dataset.health = kind;
    $("health").textContent = text;
  }

  // ---- status ---------------------------------------------------------------------
  function render(d) {
    doc = d;
    operator = !!d.operator;
    $("cluster-name").textContent = d.cluster;
    $("server-name").textContent = d.server;
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    const p = problems(d);
    setHealth(p.length ? "degraded" : "healthy", p.length ? `DEGRADED (${p.length})` : "HEALTHY");
    $("problems").replaceChildren(...p.map((x) => el("div", {}, x)));
    // The operator's choices survive the redraw (the status changes several times a second).
    const chosen = {};
    document.querySelectorAll("select.to").forEach((x) => { chosen[x.dataset.group] = x.value; });
    const servers = [[d.server, d.state, true], ...Object.entries(d.peers || {}).map(([s, st]) => [s, st, false])];
    const names = servers.map((s) => s[0]);
    table("servers", ["server", "state", ""], servers.map(([s, st, me]) =>
      el("tr", { "data-server": s }, el("td", {}, s, me ? el("small", {}, " (this one)") : null), el("td", {}, badge(st)),
        el("td", {}, st === "suspended" ? opButton("return", "server/return", { target: s }) : null))));
    // The path matrix: one row per peer, one column per path.
    const pathNames = [...new Set((d.paths || []).map((x) => x.path))].sort();
    const peers = [...new Set((d.paths || []).map((x) => x.peer))].sort();
    table("paths", [d.server + " hears", ...pathNames], peers.map((peer) => el("tr", { "data-peer": peer }, el("td", {}, peer),
      pathNames.map((path) => {
        const x = (d.paths || []).find((y) => y.peer === peer && y.path === path);
        if (!x) return el("td", { class: "cell muted" }, "–");
        const silent = x.silent_ms === null ? "never" : x.silent_ms + " ms";
        return el("td", { class: "cell " + (x.alive ? "alive" : "silent"), title: "last heard " + silent + " ago" },
          x.alive ? "✔ " + silent : "✖ " + silent);
      }))));
    table("groups", ["group", "where", "here", "resources", "operations"], Object.keys(d.groups || {}).sort().map((g) => {
      const at = Object.entries((d.locations || {})[g] || {});
      const where = at.length ? at.map(([s, st]) => el("span", { class: "loc", "data-server": s }, s, " ", badge(st), " ")) : [badge("offline")];
      const res = Object.entries((d.resources || {})[g] || {}).map(([r, st]) => el("div", {}, r, " ", badge(st)));
      const others = names.filter((s) => !at.some(([x]) => x === s));
      const sel = el("select", { class: "to", "data-group": g }, others.map((s) => el("option", { value: s }, s)));
      return el("tr", { "data-group": g },
        el("td", {}, el("b", {}, g)), el("td", { class: "where" }, where), el("td", {}, badge(d.groups[g])), el("td", {}, res),
        el("td", {}, opButton("start", "group/start", { target: g }), " ", opButton("stop", "group/stop", { target: g }), " ",
          el("button", { class: "op move", "data-op": "group/move", "data-target": g, onclick: () => ask("group/move", { target: g, to: sel.value || undefined }) }, "move to"), " ", sel));
    }));
    const rec = d.recovery_actions || [];
    table("monitors", ["monitor", "state", "recovery actions", ""], Object.entries(d.monitors || {}).map(([m, st]) => el("tr", { "data-monitor": m },
      el("td", {}, m), el("td", {}, badge(st)),
      el("td", {}, rec.filter((r) => r.monitor === m).map((r) => `${r.action} ${r.count}`).join(", ") || el("span", { class: "muted" }, "0")),
      el("td", {}, opButton("suspend", "monitor/suspend", { target: m }), " ", opButton("resume", "monitor/resume", { target: m })))));
    const verdicts = Object.entries(d.np_verdicts || {});
    table("resolvers", ["what", "count"], [
      ...verdicts.map(([v, n]) => el("tr", {}, el("td", {}, "resolver verdict " + v), el("td", {}, n))),
      ...(d.failovers || []).map((f) => el("tr", {}, el("td", {}, `failover of ${f.group} (${f.cause})`), el("td", {}, f.count))),
      ...(d.disk_slots || []).map((s) => el("tr", {}, el("td", {}, `refused slots of ${s.server} on ${s.device}`), el("td", {}, Object.values(s.refused).reduce((a, b) => a + b, 0)))),
    ]);
    table("mirrors", ["mirror", "state"], Object.entries(d.mirrors || {}).map(([m, st]) => el("tr", {}, el("td", {}, m), el("td", {}, badge(st)))));
    document.querySelectorAll("select.to").forEach((x) => {
      if ([...x.options].some((o) => o.value === chosen[x.dataset.group])) x.value = chosen[x.dataset.group];
    });
    document.querySelectorAll("button.op").forEach((b) => { b.disabled = !operator; if (!operator) b.title = "read-only console: no web_token_file"; });
  }

  // ---- timeline -------------------------------------------------------------------
  const RANK = { info: 0, notice: 0, warning: 1, error: 2, critical: 3 };
  function renderTimeline() {
    const f = $("filter").value.toLowerCase(), sev = $("severity").value;
    const list = $("timeline");
    const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
    const rows = events.filter((e) => (!f || (e.text + " " + (e.because || "")).toLowerCase().includes(f))
      && (!sev || (RANK[e.severity] || 0) >= RANK[sev]));
    list.replaceChildren(...rows.map((e) => {
      const li = el("li", { class: "sev-" + e.severity, "data-event": e.event, title: "click: why did this happen?" },
        el("span", { class: "t" }, fmtTime(e.at_ms)), e.text, e.because ? el("span", { class: "because" }, "  — " + e.because) : null);
      li.addEventListener("click", () => why(e, li));
      return li;
    }));
    if (atBottom) list.scrollTop = list.scrollHeight;
  }
  function recordText(r) {
    let t = r.event;
    for (const k of ["group", "resource", "monitor", "peer"]) if (r[k]) t += ` ${k}=${r[k]}`;
    if (r.reason) t += ` reason=${r.reason}`;
    return t;
  }
  async function loadLog() {
    try {
      const r = await fetch("/api/log?limit=500");
      if (r.ok) { events = await r.json(); renderTimeline(); }
    } catch (e) { /* shown by the live indicator */ }
  }
  async function why(e, li) {
    const open = li.querySelector(".why");
    if (open) { open.remove(); return; }
    const q = e.seq !== undefined ? `seq=${e.seq}` : `event=${encodeURIComponent(e.event)}&at_ms=${e.at_ms}`;
    const box = el("div", { class: "why" }, "…");
    box.addEventListener("click", (ev) => ev.stopPropagation());
    li.append(box);
    try {
      const r = await fetch("/api/why?" + q);
      const j = await r.json();
      if (!r.ok) { box.textContent = j.error || r.statusText; return; }
      box.textContent = j.steps.map((s, i) => `${i ? "<- " : "   "}#${s.seq} ${s.at} ${s.server}: ${s.event}` +
        (s.because ? `\n      because: ${s.because}` : "") + `\n      while handling #${s.input_seq}: ${s.input}`).join("\n");
    } catch (err) { box.textContent = String(err); }
  }

  // ---- operations -----------------------------------------------------------------
  function toast(text, ok) {
    const t = el("div", { class: "toast " + (ok ? "ok" : "bad") }, text);
    $("toasts").append(t);
    setTimeout(() => t.remove(), ok ? 6000 : 15000);
  }
  function commandOf(op, body) {
    const [noun, verb] = op.split("/");
    return ["baton", noun, verb, body.target, body.to ? "--to " + body.to : null, body.on ? "--on " + body.on : null].filter(Boolean).join(" ");
  }
  function ask(op, body) {
    $("confirm-command").textContent = commandOf(op, body);
    $("confirm").classList.remove("hidden");
    $("confirm-ok").onclick = () => { $("confirm").classList.add("hidden"); run(op, body); };
  }
  async function run(op, body) {
    const token = $("token").value;
    const headers = { "Content-Type": "application/json", "X-Baton-Console": "1" };
    if (token) headers["Authorization"] = "Bearer " + token;
    try {
      const r = await fetch("/api/op/" + op, { method: "POST", headers, body: JSON.stringify(body) });
      const j = await r.json().catch(() => ({ error: r.statusText }));
      if (r.ok) toast(`${j.command}: accepted`, true);
      else toast(`${commandOf(op, body)}: ${j.refused ? "refused: " + j.refused : j.error}`, false);
    } catch (err) { toast(String(err), false); }
  }
  $("confirm-cancel").onclick = () => $("confirm").classList.add("hidden");
  $("cluster-suspend").onclick = () => ask("cluster/suspend", {});
  $("cluster-resume").onclick = () => ask("cluster/resume", {});
  $("token").value = sessionStorage.getItem("baton-token") || "";
  $("token").addEventListener("change", () => sessionStorage.setItem("baton-token", $("token").value));
  $("filter").addEventListener("input", renderTimeline);
  $("severity").addEventListener("change", renderTimeline);

  // ---- live stream ----------------------------------------------------------------
  function connect() {
    const es = new EventSource("/api/events");
    es.onopen = () => { $("live").className = "live on"; loadLog(); };
    es.onerror = () => { $("live").className = "live off"; setHealth("down", "NO CONNECTION to the daemon"); };
    es.addEventListener("status", (m) => render(JSON.parse(m.data)));
    es.addEventListener("event", (m) => {
      const r = JSON.parse(m.data);
      events.push({ at_ms: r.at_ms, event: r.event, severity: r.severity, text: recordText(r), because: r.cause });
      if (events.length > MAX_ROWS) events.splice(0, events.length - MAX_ROWS);
      renderTimeline();
    });
    es.addEventListener("lagged", loadLog);
  }
  connect();
})();
