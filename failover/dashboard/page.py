"""The dashboard's one page: HTML with its style and script inlined, so it loads nothing
from the network (it works offline and behind a firewall) and a Content-Security-Policy
can forbid every other source.

The page is static: it holds no data and no secret.  Its script polls ``api/status``
(relative to the page, so it works at any mount path) and draws the tables with
``textContent`` only, so a target name or an error message is never parsed as HTML.
"""

from __future__ import annotations

import base64
import hashlib

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1d1d1f; background: #fafafa; }
h1 { font-size: 1.3em; margin: 0 0 .3em; }
h2 { font-size: 1.1em; margin: 1.2em 0 .3em; }
table { border-collapse: collapse; background: #fff; min-width: 60%; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; font-weight: 600; }
.bad { background: #fde2e1; } .warn { background: #fff4d6; } .good { background: #e6f6e6; }
#state { color: #666; } #state.lost { color: #b00020; font-weight: 600; }
#controls { margin: .6em 0; display: none; } #controls input { margin-right: .5em; }
#answer { margin-left: .5em; } .panic { color: #b00020; font-weight: 600; }
ol#events { padding-left: 1.2em; } ol#events li.warning, ol#events li.error { color: #b00020; }
"""

SCRIPT = r"""
"use strict";
// The page is served at the app's root: with or without the slash, calls go below it.
const base = location.pathname.endsWith("/") ? location.pathname : location.pathname + "/";
const POLL_MS = 1000;
let controls = false;

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}
function ago(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 60) return Math.round(seconds) + "s ago";
  if (seconds < 3600) return Math.round(seconds / 60) + "m ago";
  return (seconds / 3600).toFixed(1) + "h ago";
}
function clock(at) { return at ? new Date(at * 1000).toLocaleTimeString() : ""; }
function shade(t) {
  if (t.breaker.includes("open") || t.health === "DOWN" || t.role === "down") return "bad";
  if (t.health !== "up" || t.breaker.includes("half")) return "warn";
  return t.role === "preferred" ? "good" : "";
}
function backlog(b) {
  if (!b) return "";
  if (!b.rows) return "0";
  return b.rows + " rows, oldest " + ago(b.oldest_age) + (b.quarantined ? ", " + b.quarantined + " quarantined" : "");
}
function lastError(t) {
  if (!t.last_error) return "";
  return t.last_error + (t.last_error_age === null ? "" : " (" + ago(t.last_error_age) + ")");
}
const COLUMNS = ["target", "role", "health", "breaker", "share", "latency", "errors", "backlog", "last error"];
function cells(t) {
  return [
    ["target", t.name], ["role", t.role], ["health", t.health], ["breaker", t.breaker],
    ["share", Math.round(t.traffic_share * 100) + "%"],
    ["latency", t.latency_ms === null ? "-" : t.latency_ms.toFixed(2) + " ms"],
    ["errors", t.recent_errors + "/" + t.recent_calls], ["backlog", backlog(t.backlog)],
    ["last-error", lastError(t)],
  ];
}
function controlCell(facade, target) {
  const td = el("td", null, "actions");
  for (const [label, action] of [["force open", "force-open"], ["release", "release"]]) {
    const button = el("button", label);
    button.dataset.action = action;
    button.addEventListener("click", () => act(action, facade, target));
    td.appendChild(button);
  }
  return td;
}
function facadeSection(f) {
  const section = el("section");
  section.dataset.facade = f.name;
  section.appendChild(el("h2", f.name + (f.kind && f.kind !== f.name ? " (" + f.kind + ")" : "")));
  if (f.error) { section.appendChild(el("p", "status unavailable: " + f.error, "panic")); return section; }
  if (f.panic) section.appendChild(el("p", "PANIC: every target looks down; trying all of them", "panic"));
  if (f.quarantined) section.appendChild(el("p", f.quarantined + " repair(s) quarantined"));
  const table = el("table");
  const head = el("tr");
  for (const name of COLUMNS) head.appendChild(el("th", name));
  if (controls) head.appendChild(el("th", "control"));
  table.appendChild(head);
  for (const t of f.targets) {
    const tr = el("tr", null, shade(t));
    tr.dataset.facade = f.name;
    tr.dataset.target = t.name;
    for (const [cls, text] of cells(t)) tr.appendChild(el("td", text, cls));
    if (controls) tr.appendChild(controlCell(f.name, t.name));
    table.appendChild(tr);
  }
  section.appendChild(table);
  return section;
}
function draw(doc) {
  controls = doc.controls;
  document.getElementById("controls").style.display = controls ? "block" : "none";
  const facades = document.getElementById("facades");
  facades.replaceChildren(...doc.facades.map(facadeSection));
  const events = document.getElementById("events");
  events.replaceChildren(...doc.events.map((e) => {
    const li = el("li", null, e.level);
    li.appendChild(el("time", clock(e.at) + " (" + ago(e.age) + ")"));
    li.appendChild(document.createTextNode(" " + e.text));
    return li;
  }));
  if (!doc.events.length) events.appendChild(el("li", "no events yet"));
}
async function poll() {
  const state = document.getElementById("state");
  try {
    const answer = await fetch(base + "api/status", {cache: "no-store"});
    if (!answer.ok) throw new Error("HTTP " + answer.status);
    draw(await answer.json());
    state.textContent = "updated " + new Date().toLocaleTimeString();
    state.className = "";
  } catch (err) {
    state.textContent = "cannot reach the dashboard (" + err.message + "); retrying";
    state.className = "lost";
  }
  setTimeout(poll, POLL_MS);
}
async function act(action, facade, target) {
  const out = document.getElementById("answer");
  const token = document.getElementById("token").value;
  const reason = document.getElementById("reason").value;
  try {
    const answer = await fetch(base + "api/" + action, {
      method: "POST",
      headers: {"Authorization": "Bearer " + token, "Content-Type": "application/json"},
      body: JSON.stringify({facade: facade, target: target, reason: reason}),
    });
    const body = await answer.json();
    out.textContent = answer.ok ? body.done : "refused: " + body.error;
  } catch (err) {
    out.textContent = "failed: " + err.message;
  }
}
poll();
"""

BODY = """<h1>failover dashboard</h1>
<p id="state">loading...</p>
<div id="controls">
<label>token <input id="token" type="password" autocomplete="off"></label>
<label>reason <input id="reason" type="text" placeholder="why (required)"></label>
<span id="answer"></span>
</div>
<div id="facades"></div>
<h2>recent events</h2>
<ol id="events"></ol>
"""

HTML = (
    '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    f"<title>failover dashboard</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{BODY}"
    f"<script>{SCRIPT}</script>\n</body>\n</html>\n"
)


def _digest(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


# Only this page's own style and script may run; fetches go to the dashboard itself.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; script-src {_digest(SCRIPT)}; style-src {_digest(STYLE)}; "
    "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

__all__ = ["BODY", "CONTENT_SECURITY_POLICY", "HTML", "SCRIPT", "STYLE"]
