// rampart's dashboard: polls two JSON endpoints every second and fills
// the page. No library, nothing fetched from elsewhere.
"use strict";

function text(v) { return v === null || v === undefined ? "–" : String(v); }

function fill(id, rows) {
  const body = document.querySelector("#" + id + " tbody");
  const frag = document.createDocumentFragment();
  for (const row of rows) {
    const tr = document.createElement("tr");
    for (const cell of row) {
      const td = document.createElement("td");
      if (typeof cell === "number") td.className = "n";
      if (cell && typeof cell === "object") {
        td.textContent = text(cell.text);
        if (cell.cls) td.className = cell.cls;
      } else {
        td.textContent = text(cell);
      }
      tr.appendChild(td);
    }
    frag.appendChild(tr);
  }
  body.replaceChildren(frag);
}

function duration(s) {
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  return (d ? d + "d " : "") + (h ? h + "h " : "") + m + "m " + (s % 60) + "s";
}

// Lines over the history: columns by index into each history row.
function chart(id, history, lines) {
  const c = document.getElementById(id);
  const ctx = c.getContext("2d");
  const w = c.width, h = c.height, pad = 30;
  ctx.clearRect(0, 0, w, h);
  let max = 1;
  for (const row of history) for (const l of lines) max = Math.max(max, row[l.col]);
  ctx.fillStyle = "#666";
  ctx.font = "11px " + getComputedStyle(document.body).fontFamily;
  ctx.fillText(String(Math.round(max)), 2, 10);
  ctx.fillText("0", 2, h - 2);
  const n = Math.max(history.length - 1, 1);
  for (const l of lines) {
    ctx.strokeStyle = l.color;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    history.forEach((row, i) => {
      const x = pad + (w - pad) * i / n;
      const y = h - 2 - (h - 14) * row[l.col] / max;
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
  }
}

// Absolute, from the origin: a page opened as http://user:pass@host/
// has a base URL fetch() refuses (credentials in it); the browser's
// authentication cache supplies them for the same origin.
const BASE = location.origin + location.pathname.replace(/[^/]*$/, "");

async function get(path) {
  const r = await fetch(BASE + path, { credentials: "same-origin", cache: "no-store" });
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

async function poll() {
  try {
    const [d, s] = await Promise.all([get("jsonstat?command=rampart"), get("api/v1/servers/localhost")]);
    const st = s.statistics || {};
    document.getElementById("qps").textContent = d.qps;
    document.getElementById("uptime").textContent = duration(d.uptime);
    document.getElementById("queries").textContent = text(st.queries);
    document.getElementById("dropped").textContent =
      (st["acl-drops"] || 0) + (st["rule-drop"] || 0) + (st["dyn-blocked"] || 0) + ((d.counters || {})["rrl-dropped"] || 0);
    document.getElementById("latency").textContent = text(Math.round(st["latency-avg100"] || 0)) + " µs";
    chart("chart-qps", d.history, [
      { col: 1, color: "#2b7bb9" }, { col: 3, color: "#d9534f" },
      { col: 5, color: "#f0ad4e" }, { col: 4, color: "#7a43b6" }]);
    chart("chart-latency", d.history, [{ col: 8, color: "#2b7bb9" }]);
    fill("rcodes", Object.entries(d.rcodes).map(([k, v]) => [k.toUpperCase(), v]));
    fill("top-clients", d.top_clients);
    fill("top-names", d.top_names);
    fill("top-nxdomain", d.top_nxdomain_parents);
    fill("dynblocks", Object.entries(d.dynblocks).map(([k, b]) => [k, b.reason, b.seconds, b.blocks, b.action]));
    document.getElementById("rrl").textContent = d.rrl.enabled
      ? "dropped " + d.rrl.dropped + ", slipped " + d.rrl.slipped + "\n" + (d.rrl.table || "")
      : "off";
    fill("servers", s.servers.map(b => [b.name, b.address,
      { text: b.state, cls: /down/i.test(b.state) ? "down" : "" },
      b.latency === null ? "–" : Number(b.latency.toFixed(2)), b.queries, b.drops, b.qps,
      b.outstanding, b.weight, b.order, b.pools.join(", ")]));
    fill("zones", d.zones.map(z => [z.name, z.role, z.serial, z.records, z.journal_changes,
      { text: z.status, cls: z.loaded ? "" : "down" }]));
    fill("rules", s.rules.map(r => [r.id, r.name, r.rule, r.action, r.matches]));
    const status = document.getElementById("status");
    status.textContent = "updated " + new Date().toLocaleTimeString();
    status.className = "";
  } catch (e) {
    const status = document.getElementById("status");
    status.textContent = "not updating: " + e.message;
    status.className = "stale";
  }
}

poll();
setInterval(poll, 1000);
