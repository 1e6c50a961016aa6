/* The supervisor board: a row per live call, from the account-wide stream /api/board/stream. */
"use strict";

window.CintelBoard = (function () {
  var C = window.Cintel;
  var ENDED_VISIBLE_MS = 60000;  // an ended call stays on the board, dimmed, for a minute
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

  function checklistDots(checklist) {
    var dots = C.el("span", "dots");
    (checklist || []).forEach(function (item) {
      var dot = C.el("span", "dot-step");
      dot.dataset.status = item.status;
      dot.title = item.label + ": " + item.status;
      dots.appendChild(dot);
    });
    return dots;
  }

  function render(row, call) {
    var flags = C.flags(call.checklist, call.sentiment);
    row.textContent = "";
    row.dataset.session = call.session;
    row.dataset.version = String(call.version);
    row.dataset.ended = call.ended ? "true" : "false";
    row.dataset.flagged = flags.length ? "true" : "false";

    var first = cell(row, "col-call", "Call");
    var link = C.el("a", "call-link mono", call.session);
    link.href = callUrl.replace("SESSION", encodeURIComponent(call.session));
    first.appendChild(link);
    first.appendChild(C.el("span", "sub", call.customer ? "Customer " + call.customer : "Customer not known yet"));

    var agent = cell(row, "col-agent", "Agent");
    agent.appendChild(C.el("span", "agent-name", call.agent || "–"));
    agent.appendChild(C.el("span", "sub", call.ended ? "Ended" : C.statusText(call.callStatus || "live")));

    cell(row, "col-duration mono", "Duration").textContent = C.duration(elapsed(call));

    var scoreCell = cell(row, "col-score", "Adherence");
    var value = C.el("span", "score", C.score(call.score));
    value.dataset.level = call.ended ? C.scoreLevel(call.score) : "none";  // early in a call, low is normal
    scoreCell.appendChild(value);
    scoreCell.appendChild(checklistDots(call.checklist));

    var sentiment = C.el("span", "chip chip-sentiment", call.sentiment || "–");
    sentiment.dataset.sentiment = call.sentiment || "";
    cell(row, "col-sentiment", "Sentiment").appendChild(sentiment);

    var last = cell(row, "col-last", "Last utterance");
    if (call.lastUtterance) {
      last.appendChild(C.el("span", "speaker speaker-" + call.lastUtterance.speaker, call.lastUtterance.speaker));
      last.appendChild(C.el("span", "utterance", call.lastUtterance.text));
    } else {
      last.appendChild(C.el("span", "sub", "No speech yet"));
    }

    var flagCell = cell(row, "col-flags", "Flags");
    flags.forEach(function (flag) {
      flagCell.appendChild(C.el("span", "flag flag-" + flag.kind, flag.text));
    });
  }

  function order(a, b) {
    var fa = C.flags(a.checklist, a.sentiment).length ? 0 : 1;
    var fb = C.flags(b.checklist, b.sentiment).length ? 0 : 1;
    return (a.ended ? 1 : 0) - (b.ended ? 1 : 0) || fa - fb || a.startedAt - b.startedAt;
  }

  function refresh() {
    var body = document.getElementById("board-rows");
    var list = Object.keys(calls).map(function (k) { return calls[k]; });
    list = list.filter(function (call) {
      var keep = !call.ended || now() - call.endedAt < ENDED_VISIBLE_MS;
      if (!keep) { delete calls[call.session]; delete rows[call.session]; }
      return keep;
    }).sort(order);
    list.forEach(function (call) {
      var row = rows[call.session] || (rows[call.session] = C.el("tr"));
      if (row.dataset.version !== String(call.version)) render(row, call);
      body.appendChild(row);  // appending an attached row moves it: the table follows the sort order
    });
    Array.prototype.slice.call(body.children).forEach(function (row) {
      if (!calls[row.dataset.session]) body.removeChild(row);
    });
    var live = list.filter(function (c) { return !c.ended; });
    var scored = live.filter(function (c) { return typeof c.score === "number"; });
    document.getElementById("board-empty").hidden = list.length > 0;
    document.getElementById("stat-live").textContent = live.length;
    document.getElementById("stat-score").textContent = scored.length
      ? C.score(scored.reduce(function (s, c) { return s + c.score; }, 0) / scored.length) : "–";
    document.getElementById("stat-negative").textContent =
      live.filter(function (c) { return c.sentiment === "negative"; }).length;
    document.getElementById("stat-flagged").textContent =
      live.filter(function (c) { return C.flags(c.checklist, c.sentiment).length; }).length;
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
    if (expired) return refresh();
    Object.keys(rows).forEach(function (k) {
      rows[k].querySelector(".col-duration").textContent = C.duration(elapsed(calls[k]));
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
