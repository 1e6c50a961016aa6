/* One call, live: transcript, script checklist, sentiment, summary and the operator log, from the same
   stream the Flex plugin reads (/api/stream/<session>). */
"use strict";

window.CintelCall = (function () {
  var C = window.Cintel;
  var MAX_LOG = 200;
  var script = null;
  var lines = {};     // communication id -> <li>, so a replayed line is never shown twice
  var results = {};   // operator result id -> <li>
  var resultCount = 0;

  function byId(id) { return document.getElementById(id); }

  function addLine(line) {
    if (lines[line.id]) return;
    var list = byId("transcript");
    var stick = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    var item = C.el("li", "line line-" + line.speaker);
    item.dataset.speaker = line.speaker;
    var meta = C.el("div", "line-meta");
    meta.appendChild(C.el("span", "speaker speaker-" + line.speaker, line.speaker));
    meta.appendChild(C.el("time", "line-time", C.clock(line.timestamp)));
    item.appendChild(meta);
    item.appendChild(C.el("p", "text", line.text));
    list.appendChild(item);
    lines[line.id || "line-" + list.children.length] = item;
    byId("transcript-empty").hidden = true;
    byId("call-lines").textContent = list.children.length;
    if (stick) list.scrollTop = list.scrollHeight;
  }

  function addResult(result) {
    if (results[result.id]) return;
    var item = C.el("li", "op");
    var head = C.el("div", "op-head");
    head.appendChild(C.el("span", "op-name", result.operator.friendlyName));
    head.appendChild(C.el("span", "op-format", result.outputFormat || ""));
    head.appendChild(C.el("time", "op-time", C.clock(result.timestamp)));
    item.appendChild(head);
    item.appendChild(C.el("div", "op-id mono", result.operator.id));
    var details = C.el("details", "op-body");
    details.appendChild(C.el("summary", null, "Result"));
    details.appendChild(C.el("pre", null, JSON.stringify(result.result, null, 2)));
    item.appendChild(details);
    var log = byId("oplog");
    log.insertBefore(item, log.firstChild);
    results[result.id] = item;
    resultCount += 1;
    while (log.children.length > MAX_LOG) log.removeChild(log.lastChild);
    byId("oplog-count").textContent = resultCount + (resultCount === 1 ? " result" : " results");
  }

  function renderChecklist(adherence) {
    var statuses = {};
    ((adherence && adherence.categories) || []).forEach(function (c) { statuses[c.key] = c.status; });
    var items = script.categories.map(function (c) {
      return {key: c.key, label: c.label, status: statuses[c.key] || "pending"};
    });
    var overdue = {};
    C.flags(items).forEach(function (flag) { overdue[flag.text] = true; });
    var list = byId("checklist");
    list.textContent = "";
    script.categories.forEach(function (category, i) {
      var status = items[i].status;
      var item = C.el("li", "step");
      item.dataset.key = category.key;
      item.dataset.status = status;
      if (overdue[category.label + " overdue"]) item.dataset.overdue = "true";
      item.appendChild(C.el("span", "step-icon", {met: "✓", missed: "✕"}[status] || String(i + 1)));
      var body = C.el("div", "step-body");
      var title = C.el("div", "step-title");
      title.appendChild(C.el("span", "step-label", category.label));
      title.appendChild(C.el("span", "step-weight", category.weight + "%"));
      body.appendChild(title);
      body.appendChild(C.el("p", "step-desc", category.description));
      item.appendChild(body);
      item.appendChild(C.el("span", "step-status", item.dataset.overdue ? "overdue" : status));
      list.appendChild(item);
    });
    var value = adherence ? adherence.score : null;
    var score = byId("call-score");
    score.textContent = C.score(value);
    score.dataset.level = C.scoreLevel(value);
    byId("score-fill").style.width = (value || 0) + "%";
    byId("score-fill").dataset.level = C.scoreLevel(value);
    byId("explanation").textContent = (adherence && adherence.explanation) || "";
  }

  function setSentiment(sentiment) {
    var chip = byId("call-sentiment");
    chip.textContent = sentiment ? sentiment.label : "–";
    chip.dataset.sentiment = sentiment ? sentiment.label : "";
  }

  function setSummary(summary) {
    byId("summary").textContent = summary ? summary.text : "No summary yet.";
  }

  function setStatus(status) {
    var chip = byId("call-status");
    var value = status ? status.status : "unknown";
    chip.dataset.status = value;
    chip.textContent = value === "unknown" ? "Waiting" : C.statusText(value);
  }

  function reset() {
    byId("transcript").textContent = "";
    byId("oplog").textContent = "";
    lines = {};
    results = {};
    resultCount = 0;
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "initial":
        reset();
        frame.transcript.forEach(addLine);
        frame.operatorResults.forEach(addResult);
        renderChecklist(frame.adherence);
        setSentiment(frame.sentiment);
        setSummary(frame.summary);
        setStatus(frame.callStatus);
        break;
      case "transcript": addLine(frame.data); break;
      case "operator-result": addResult(frame.data); break;
      case "adherence": renderChecklist(frame.data); break;
      case "sentiment": setSentiment(frame.data); break;
      case "summary": setSummary(frame.data); break;
      case "call-status": setStatus(frame.data); break;
    }
  }

  function start(options) {
    fetch(options.scriptUrl).then(function (response) {
      if (!response.ok) throw new Error("script: HTTP " + response.status);
      return response.json();
    }).then(function (body) {
      script = body;
      renderChecklist(null);
      C.openStream("/api/stream/" + encodeURIComponent(options.session), options.session, onFrame);
    }).catch(function () {
      C.showConnection("reconnecting");
      window.setTimeout(function () { start(options); }, 2000);
    });
  }

  return {start: start};
})();

/* Settings come from the script tag (no inline script, so a strict Content-Security-Policy can apply). */
window.CintelCall.start({session: document.currentScript.dataset.session,
                         scriptUrl: document.currentScript.dataset.scriptUrl});
