/* The supervisor board: a row per live call, from the account-wide stream /api/board/stream. */
"use strict";

window.CintelBoard = (function () {
  var C = window.Cintel;
  var ENDED_VISIBLE_MS = 60000;  // an ended call stays on the board, marked ended, for a minute
  var calls = {};                // session -> newest summary seen
  var rows = {};                 // session -> <tr>
  var clockOffset = 0;           // relay clock minus browser clock, so durations agree with the relay
  var callUrl = "";

  function now() { return Date.now() + clockOffset; }

  function elapsed(call) { return (call.endedAt || now()) - call.startedAt; }

  /* A cell; its column's name goes with it, for the phone layout where the table head is hidden. */
  function cell(row, className, label) {
    var td = C.el("td", className);
    td.dataset.label = label;
    row.appendChild(td);
    return td;
  }

  /* A row's cells, built once: updates change their contents, never the row or its link, so the link keeps
     keyboard focus while the board moves around it. */
  function build(row, session) {
    row.dataset.session = session;
    var first = cell(row, "col-call", "Call");
    var link = C.el("a", "call-link mono", session);
    link.href = callUrl.replace("SESSION", encodeURIComponent(session));
    first.appendChild(link);
    first.appendChild(C.el("span", "sub customer"));
    var agent = cell(row, "col-agent", "Agent");
    agent.appendChild(C.el("span", "agent-name"));
    agent.appendChild(C.el("span", "sub call-state"));
    cell(row, "col-duration mono", "Duration");
    var scoreCell = cell(row, "col-score", "Adherence");
    scoreCell.appendChild(C.el("span", "score"));
    var steps = C.el("ol", "steps");
    steps.setAttribute("aria-label", "Script steps");
    scoreCell.appendChild(steps);
    cell(row, "col-sentiment", "Sentiment").appendChild(C.el("span", "chip chip-sentiment"));
    cell(row, "col-last", "Last utterance");
    cell(row, "col-flags", "Flags");
  }

  /* Set a node's text only when it changed: a screen reader re-reads what is rewritten. */
  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  /* Each step's status in words (read out, and shown as a mark inside the chip), not only by its colour. */
  var STEP_MARK = {met: "✓", missed: "✕", overdue: "!", pending: ""};

  function renderSteps(list, checklist) {
    var overdue = {};
    C.flags(checklist).forEach(function (flag) { overdue[flag.text] = true; });
    var items = checklist || [];
    while (list.children.length > items.length) list.removeChild(list.lastChild);
    items.forEach(function (item, i) {
      var step = list.children[i];
      if (!step) {
        step = list.appendChild(C.el("li", "step-chip"));
        step.appendChild(C.el("span", "step-mark")).setAttribute("aria-hidden", "true");
        step.appendChild(C.el("span", "visually-hidden step-name"));
      }
      var status = overdue[item.label + " overdue"] ? "overdue" : item.status;
      // As the relay decided them: met late, and an open dispute next to the verdict.
      var words = status + (item.status === "met" && item.due === "late" ? " late" : "") +
        (item.dispute && item.dispute.status === "open" ? ", disputed" : "");
      step.dataset.status = status;
      step.dataset.due = item.due || "open";
      step.title = item.label + ": " + words;
      setText(step.firstChild, STEP_MARK[status] || "");
      setText(step.lastChild, item.label + ": " + words);
    });
  }

  function renderLast(cellNode, utterance) {
    var key = utterance ? utterance.speaker + "\n" + utterance.text : "";
    if (cellNode.dataset.key === key) return;
    cellNode.dataset.key = key;
    cellNode.textContent = "";
    if (utterance) {
      cellNode.appendChild(C.el("span", "speaker speaker-" + utterance.speaker, utterance.speaker));
      cellNode.appendChild(C.el("span", "utterance", utterance.text));
    } else {
      cellNode.appendChild(C.el("span", "sub", "No speech yet"));
    }
  }

  function renderFlags(cellNode, flags) {
    var key = flags.map(function (flag) { return flag.text; }).join("\n");
    if (cellNode.dataset.key === key) return;
    cellNode.dataset.key = key;
    cellNode.textContent = "";
    flags.forEach(function (flag) {
      var node = C.el("span", "flag flag-" + flag.kind, flag.text);
      node.title = flag.why;
      cellNode.appendChild(node);
    });
  }

  function render(row, call) {
    var flags = C.alertFlags(call);
    if (!row.firstChild) build(row, call.session);
    var conversation = call.kind === "conversation";
    row.dataset.kind = call.kind || "call";  // summaries written before the relay named kinds are calls
    row.dataset.version = String(call.version);
    row.dataset.ended = call.ended ? "true" : "false";
    row.dataset.flagged = flags.length ? "true" : "false";
    var who = call.customer ? "Customer " + call.customer : "Customer not known yet";
    setText(row.querySelector(".customer"), conversation ? C.kindText(call.kind, call.channels) + " · " + who : who);
    setText(row.querySelector(".agent-name"), call.agent || "–");
    var state = call.ended ? "Ended" : conversation ? "Open" : C.statusText(call.callStatus || "live");
    setText(row.querySelector(".call-state"), state);
    setText(row.querySelector(".col-duration"), C.duration(elapsed(call)));
    var value = row.querySelector(".score");
    setText(value, C.score(call.score));
    value.dataset.level = call.ended ? C.scoreLevel(call.score) : "none";  // early in a call, low is normal
    renderSteps(row.querySelector(".steps"), call.checklist);
    var sentiment = row.querySelector(".chip-sentiment");
    setText(sentiment, call.sentiment || "–");
    sentiment.dataset.sentiment = call.sentiment || "";
    renderLast(row.querySelector(".col-last"), call.lastUtterance);
    renderFlags(row.querySelector(".col-flags"), flags);
  }

  function order(a, b) {
    var fa = C.alertFlags(a).length ? 0 : 1;
    var fb = C.alertFlags(b).length ? 0 : 1;
    return (a.ended ? 1 : 0) - (b.ended ? 1 : 0) || fa - fb || a.startedAt - b.startedAt;
  }

  /* The row that holds keyboard focus, if any: it is never moved or removed (either would drop the focus
     to the page's body), so the other rows are moved around it. */
  function focusedRow(body) {
    var active = document.activeElement;
    return active && body.contains(active) ? active.closest("tr") : null;
  }

  /* Put the rows in the board's order with as few moves as possible, never moving `fixed`. */
  function arrange(body, list, fixed) {
    var cursor = body.firstChild;
    list.forEach(function (call) {
      var row = rows[call.session];
      if (row === cursor) {
        cursor = cursor.nextSibling;
      } else if (row === fixed) {
        cursor = fixed.nextSibling;  // rows still between the cursor and it belong after it: they move later
      } else {
        body.insertBefore(row, cursor);
      }
    });
  }

  /* The board's totals, and a spoken summary of them when they change, at most every SUMMARY_GAP_MS. */
  var SUMMARY_GAP_MS = 15000;
  var lastSummary = "";
  var summaryTimer = null;
  var summaryAt = 0;

  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }

  function summarize(live, flagged) {
    var text = plural(live.length, "live call", "live calls") + ", " +
      plural(flagged.length, "needs attention", "need attention");
    var named = flagged.map(function (c) {
      return C.alertFlags(c).map(function (f) { return f.text; }).join(", ");
    });
    if (named.length) text += ": " + named.slice(0, 3).join("; ");
    return text;
  }

  function announceSummary(text) {
    if (text === lastSummary) return;
    lastSummary = text;
    if (summaryTimer) return;
    summaryTimer = window.setTimeout(function () {
      summaryTimer = null;
      summaryAt = Date.now();
      C.announce(lastSummary);
    }, Math.max(0, summaryAt + SUMMARY_GAP_MS - Date.now()));
  }

  function refresh() {
    var body = document.getElementById("board-rows");
    var fixed = focusedRow(body);
    var before = fixed ? fixed.getBoundingClientRect().top : 0;
    var list = Object.keys(calls).map(function (k) { return calls[k]; });
    list = list.filter(function (call) {
      var keep = !call.ended || now() - call.endedAt < ENDED_VISIBLE_MS || rows[call.session] === fixed;
      if (!keep) { delete calls[call.session]; delete rows[call.session]; }
      return keep;
    }).sort(order);
    list.forEach(function (call) {
      var row = rows[call.session] || (rows[call.session] = C.el("tr"));
      if (row.dataset.version !== String(call.version)) render(row, call);
    });
    arrange(body, list, fixed);
    Array.prototype.slice.call(body.children).forEach(function (row) {
      if (!calls[row.dataset.session]) { body.removeChild(row); delete rows[row.dataset.session]; }
    });
    // Rows that moved above the focused one must not push it off where the reader left it.
    if (fixed) window.scrollBy(0, fixed.getBoundingClientRect().top - before);
    var live = list.filter(function (c) { return !c.ended; });
    var scored = live.filter(function (c) { return typeof c.score === "number"; });
    var flagged = live.filter(function (c) { return C.alertFlags(c).length; });
    document.getElementById("board-empty").hidden = list.length > 0;
    setText(document.getElementById("stat-live"), String(live.length));
    setText(document.getElementById("stat-score"), scored.length
      ? C.score(scored.reduce(function (s, c) { return s + c.score; }, 0) / scored.length) : "–");
    setText(document.getElementById("stat-negative"),
            String(live.filter(function (c) { return c.sentiment === "negative"; }).length));
    setText(document.getElementById("stat-flagged"), String(flagged.length));
    announceSummary(summarize(live, flagged));
  }

  function onFrame(frame) {
    if (frame.type === "board") {
      clockOffset = frame.now - Date.now();
      var fresh = {};
      frame.calls.forEach(function (call) { fresh[call.session] = call; });
      Object.keys(calls).forEach(function (k) { if (calls[k].ended && !fresh[k]) fresh[k] = calls[k]; });
      calls = fresh;
    } else if (frame.type === "call") {
      var known = calls[frame.data.session];
      if (!known || frame.data.version > known.version) calls[frame.data.session] = frame.data;
    }
    refresh();
  }

  /* Every second: durations move on, and ended calls leave after a while. Rows are not rebuilt, so a
     click on a call is never lost to a re-render. */
  function tick() {
    var expired = Object.keys(calls).some(function (k) {
      return calls[k].ended && now() - calls[k].endedAt >= ENDED_VISIBLE_MS;
    });
    if (expired) refresh();
    Object.keys(rows).forEach(function (k) {
      setText(rows[k].querySelector(".col-duration"), C.duration(elapsed(calls[k])));
    });
  }

  function start(options) {
    callUrl = options.callUrl;
    C.openStream("board", onFrame, "/api/board/stream");
    window.setInterval(tick, 1000);
  }

  return {start: start};
})();

/* Settings come from the script tag (no inline script, so a strict Content-Security-Policy can apply). */
window.CintelBoard.start({callUrl: document.currentScript.dataset.callUrl});
