"""The live view's one page: plain HTML and a little JavaScript that reads /api/state every
second and redraws three tables (levels, busiest quotas, calls). Text goes in as textContent,
never as HTML. Rows carry data- attributes with their figures, for tests and for scripts."""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>harness: live run</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d1d1f; background: #fafafa; }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; }
  h2 { font-size: 1.05rem; margin: 1.6rem 0 .4rem; }
  h2 small, #run { color: #666; font-weight: normal; }
  #status { display: inline-block; padding: .15rem .6rem; border-radius: 1rem; background: #e4e4e7; }
  body[data-status="running"] #status { background: #d1fae5; }
  body[data-status="finished"] #status { background: #dbeafe; }
  body[data-connection="lost"] #status { background: #fee2e2; }
  table { border-collapse: collapse; background: white; min-width: 40rem; }
  th, td { padding: .25rem .7rem; border-bottom: 1px solid #e5e5e5; text-align: right; white-space: nowrap; }
  th { background: #f1f1f3; font-weight: 600; white-space: normal; vertical-align: bottom; }
  th:first-child, td:first-child { text-align: left; }
  tr[data-state="running"] td:first-child { font-weight: 600; }
  td.hot { color: #b91c1c; font-weight: 600; }
  td.empty { color: #888; text-align: left; }
  footer { margin-top: 1.5rem; color: #666; }
</style>
</head>
<body data-status="starting">
<h1>harness: live run</h1>
<p id="run">waiting for the run's first figures</p>
<p><span id="status">starting</span></p>

<h2>Levels</h2>
<table id="levels"></table>

<h2>Busiest quotas <small id="quotas-note"></small></h2>
<table id="quotas"></table>

<h2>Throttles and waits per operation <small id="operations-note"></small></h2>
<table id="operations"></table>

<footer id="updated">not updated yet</footer>

<script>
"use strict";
const dash = "\\u2013";

function seconds(s) {
  if (s === null || s === undefined) return dash;
  s = Math.round(s);
  if (s < 60) return s + " s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + " min " + (s % 60) + " s";
  return Math.floor(m / 60) + " h " + (m % 60) + " min";
}

function number(x, digits) {
  if (x === null || x === undefined) return dash;
  return Number(x).toLocaleString("en-US", {minimumFractionDigits: digits || 0, maximumFractionDigits: digits || 0});
}

// cells: text, or [text, "hot"] for a figure that needs attention
function fill(id, headers, rows, attributes) {
  const table = document.getElementById(id);
  table.replaceChildren();
  const head = table.createTHead().insertRow();
  for (const title of headers) {
    const th = document.createElement("th");
    th.textContent = title;
    head.appendChild(th);
  }
  const body = table.createTBody();
  rows.forEach((cells, i) => {
    const tr = body.insertRow();
    for (const [key, value] of Object.entries(attributes[i])) tr.dataset[key] = value;
    for (const cell of cells) {
      const td = tr.insertCell();
      if (Array.isArray(cell)) { td.textContent = cell[0]; if (cell[1]) td.className = cell[1]; }
      else td.textContent = cell;
    }
  });
  if (!rows.length) {
    const td = body.insertRow().insertCell();
    td.colSpan = headers.length;
    td.className = "empty";
    td.textContent = "nothing yet";
  }
}

function hot(count) { return [number(count), count > 0 ? "hot" : ""]; }

function eta(level) {
  if (level.state === "done") return "done";
  if (level.eta_seconds !== null) return "about " + seconds(level.eta_seconds);
  if (level.starts_left_aws_seconds > 0) return "starting for " + seconds(level.starts_left_aws_seconds) + " AWS";
  if (level.starts_left_aws_seconds === 0) return "in-flight finishing";
  return "?";
}

function statusText(s) {
  const current = s.levels.find(l => l.level === s.level);
  const which = s.levels_planned.indexOf(s.level) + 1;
  const place = current ? " (level " + which + " of " + s.levels_planned.length + ")" : "";
  if (s.status === "running") return "running " + current.label + place;
  if (s.status === "between levels") return "between levels: cleanup and set-up" + place;
  if (s.status === "finished") return "finished: " + s.outcome;
  return "starting";
}

function render(s) {
  document.body.dataset.status = s.status;
  document.body.dataset.level = s.level === null ? "" : s.level;
  document.getElementById("run").textContent =
    "run " + s.run_id + " \\u00b7 " + s.scenario + " \\u00b7 policy " + s.policy + " \\u00b7 " + s.time + " time";
  document.getElementById("status").textContent = statusText(s);

  fill("levels",
    ["Level", "State", "Started", "Running", "Done", "Failed", "Elapsed", "ETA", "Pipelines/h (AWS)",
     "Throttled", "Limiter wait (AWS s)", "Quota wait (AWS s)"],
    s.levels.map(l => [l.label, l.state, number(l.started) + (l.total ? " of " + number(l.total) : ""),
      number(l.running), number(l.done), hot(l.failed), seconds(l.elapsed_seconds), eta(l),
      number(l.pipelines_per_hour, 1), hot(l.throttled), number(l.limiter_wait_seconds, 1),
      number(l.quota_wait_seconds, 1)]),
    s.levels.map(l => ({level: l.level, state: l.state, running: l.running, done: l.done, failed: l.failed,
      throttled: l.throttled})));

  document.getElementById("quotas-note").textContent =
    "(throttles and waits in the last " + s.recent_seconds + " s, then in the level)";
  fill("quotas",
    ["Quota", "Limit (quota table)", "Throttled, last " + s.recent_seconds + " s",
     "Waits, last " + s.recent_seconds + " s", "Throttled in level", "Waits in level"],
    s.quotas.map(q => [q.quota, q.limit || dash, hot(q.throttled_recent), hot(q.waits_recent),
      number(q.throttled), number(q.waits)]),
    s.quotas.map((q, i) => ({quota: q.quota, rank: i + 1, throttled: q.throttled, waits: q.waits})));

  const current = s.levels.find(l => l.level === s.level);
  document.getElementById("operations-note").textContent = current ? "(" + current.label + ")" : "";
  fill("operations",
    ["Operation", "Attempts", "Throttled", "Throttled, last " + s.recent_seconds + " s", "Limiter waits",
     "Limiter wait (AWS s)", "Quota waits", "Quota wait (AWS s)"],
    s.operations.map(o => [o.operation, number(o.attempts), hot(o.throttled), hot(o.throttled_recent),
      number(o.limiter_waits), number(o.limiter_wait_seconds, 1), number(o.quota_waits),
      number(o.quota_wait_seconds, 1)]),
    s.operations.map(o => ({operation: o.operation, attempts: o.attempts, throttled: o.throttled,
      waits: o.limiter_waits + o.quota_waits})));

  document.getElementById("updated").textContent = "updated " + new Date(s.now * 1000).toLocaleTimeString() +
    " \\u00b7 " + number(s.events_read) + " events read \\u00b7 refreshed every second";
}

let lastStatus = "starting";

async function poll() {
  try {
    const answer = await fetch("/api/state", {cache: "no-store"});
    if (!answer.ok) throw new Error("HTTP " + answer.status);
    const state = await answer.json();
    lastStatus = state.status;
    document.body.dataset.connection = "ok";
    render(state);
  } catch (err) {
    document.body.dataset.connection = "lost";
    if (lastStatus === "finished") {
      document.getElementById("updated").textContent =
        "The run has ended and its live view has stopped: these are its last figures.";
      return;
    }
    document.getElementById("updated").textContent = "No answer from the run (" + err.message + "); trying again.";
  }
  setTimeout(poll, 1000);
}

poll();
</script>
</body>
</html>
"""
