/* One call, live: transcript, alerts, script checklist, sentiment, summary and the operator log, from the same
   stream the Flex plugin reads (/api/stream/<session>). */
"use strict";

window.CintelCall = (function () {
  var C = window.Cintel;
  var MAX_LOG = 200;
  var script = null;
  var lines = {};     // communication id -> <li>, so a replayed line is never shown twice
  var results = {};   // operator result id -> <li>
  var resultCount = 0;
  var session = "";
  var heard = false;     // anything of this call has come in (a status callback is not the only sign of life)
  var notKnown = false;  // the relay said it knows no such call
  var callStatus = null;
  var stepStatus = {};         // step key -> status last shown, so only a change is announced
  var announceSteps = false;   // not the state found on opening the page: only what changes after it
  var sentimentLabel = null;
  var kind = "call";     // what the relay says the session is: a call, or a conversation with no call
  var channels = [];     // the channels heard on it, in order

  function byId(id) { return document.getElementById(id); }

  /* Which channel a line came by: a call's stream also carries its conversation's texts. Voice, what a
     call's transcript mostly holds, is tagged quietly; a text message visibly. */
  function channelTag(channel) {
    var key = String(channel).toUpperCase();
    var tag = C.el("span", "channel" + (key === "VOICE" ? " channel-voice" : ""), C.channelName(key));
    tag.dataset.channel = key;
    return tag;
  }

  function addLine(line) {
    if (lines[line.id]) return;
    var list = byId("transcript");
    var stick = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    var item = C.el("li", "line line-" + line.speaker);
    item.dataset.speaker = line.speaker;
    var meta = C.el("div", "line-meta");
    meta.appendChild(C.el("span", "speaker speaker-" + line.speaker, line.speaker));
    meta.appendChild(C.el("time", "line-time", C.clock(line.timestamp)));
    if (line.channel) meta.appendChild(channelTag(line.channel));  // older relays name no channel
    if (line.channel && channels.indexOf(String(line.channel).toUpperCase()) < 0) {
      channels.push(String(line.channel).toUpperCase());
      byId("call-kind").textContent = C.kindText(kind, channels);
    }
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
    var pre = C.el("pre", null, JSON.stringify(result.result, null, 2));
    pre.tabIndex = 0;  // it scrolls: the keyboard must reach it
    pre.setAttribute("aria-label", result.operator.friendlyName + " result");
    details.appendChild(pre);
    item.appendChild(details);
    var log = byId("oplog");
    log.insertBefore(item, log.firstChild);
    results[result.id] = item;
    resultCount += 1;
    while (log.children.length > MAX_LOG) log.removeChild(log.lastChild);
    byId("oplog-count").textContent = resultCount + (resultCount === 1 ? " result" : " results");
  }

  /* Mark the transcript lines a verdict judged, and bring the first into view. */
  function showEvidence(ids) {
    Object.keys(lines).forEach(function (id) { delete lines[id].dataset.evidence; });
    var first = null;
    (ids || []).forEach(function (id) {
      if (!lines[id]) return;  // trimmed from the log, or not said on this call's stream
      lines[id].dataset.evidence = "true";
      first = first || lines[id];
    });
    if (first) first.scrollIntoView({block: "center", behavior: "smooth"});
  }

  /* "I did this": one click opens a dispute on the step, with the optional note typed next to it. */
  function dispute(category, note, button) {
    button.disabled = true;
    var body = {category: category};
    if (note.value.trim()) body.note = note.value.trim();
    C.postWithTicket("/api/calls/" + encodeURIComponent(session) + "/disputes", session, body).then(function (response) {
      if (response.ok) return;  // the adherence frame that follows shows it
      return response.json().then(function (error) {
        button.disabled = false;
        button.title = error.error;
      });
    }).catch(function (error) {
      button.disabled = false;
      button.title = String(error.message || error);
    });
  }

  function disputeControls(category) {
    var form = C.el("div", "step-dispute-form");
    var note = C.el("input", "step-note");
    note.type = "text";
    note.maxLength = 500;
    note.placeholder = "Note (optional)";
    note.setAttribute("aria-label", "Note for the dispute of " + category.label);
    var button = C.el("button", "step-dispute-button", "I did this");
    button.type = "button";
    button.addEventListener("click", function (event) {
      event.stopPropagation();
      dispute(category.key, note, button);
    });
    note.addEventListener("click", function (event) { event.stopPropagation(); });
    form.appendChild(note);
    form.appendChild(button);
    return form;
  }

  /* The checklist as the relay decided it: verdicts, when each step was done against its deadline, overdue
     steps, disputes next to the verdicts. A step with evidence shows it in the transcript when clicked. */
  function renderChecklist(adherence) {
    // A conversation with no call has no call script to follow: no checklist of pending steps, unless
    // Twilio did score it.
    byId("checklist-panel").hidden = kind === "conversation" && !adherence;
    var states = {};
    ((adherence && adherence.categories) || []).forEach(function (c) { states[c.key] = c; });
    var list = byId("checklist");
    list.textContent = "";
    script.categories.forEach(function (category, i) {
      var state = states[category.key] || {status: "pending", due: "open", withinSeconds: category.withinSeconds};
      var status = state.status;
      var overdue = state.due === "overdue";
      var item = C.el("li", "step");
      item.dataset.key = category.key;
      item.dataset.status = status;
      item.dataset.due = state.due || "open";
      if (overdue) item.dataset.overdue = "true";
      item.appendChild(C.el("span", "step-icon", {met: "✓", missed: "✕"}[status] || String(i + 1)));
      var body = C.el("div", "step-body");
      var title = C.el("div", "step-title");
      title.appendChild(C.el("span", "step-label", category.label));
      title.appendChild(C.el("span", "step-weight", category.weight + "%"));
      body.appendChild(title);
      body.appendChild(C.el("p", "step-desc", category.description));
      var when = C.timing(Object.assign({withinSeconds: category.withinSeconds}, state));
      if (state.evidence && state.evidence.length) {
        var evidence = C.el("button", "step-timing step-evidence", when || "Show evidence");
        evidence.type = "button";
        evidence.title = "Show what the model judged in the transcript";
        evidence.addEventListener("click", function (event) {
          event.stopPropagation();
          showEvidence(state.evidence);
        });
        body.appendChild(evidence);
        item.dataset.hasEvidence = "true";
        item.addEventListener("click", function () { showEvidence(state.evidence); });
      } else if (when) {
        body.appendChild(C.el("span", "step-timing", when));
      }
      var open = state.dispute && state.dispute.status === "open";
      if (state.dispute) {
        var badge = C.el("span", "step-dispute", open ? "Disputed" : "Dispute resolved");
        badge.dataset.state = state.dispute.status;
        if (state.dispute.note) badge.title = state.dispute.note;
        body.appendChild(badge);
      }
      if (status !== "met" && !open) body.appendChild(disputeControls(category));
      item.appendChild(body);
      var label = overdue ? "overdue" : status === "met" && state.due === "late" ? "met late" : status;
      item.appendChild(C.el("span", "step-status", label));
      list.appendChild(item);
      announceStep(category, item.dataset.overdue ? "overdue" : status);
    });
    var value = adherence ? adherence.score : null;
    var score = byId("call-score");
    score.textContent = C.score(value);
    score.dataset.level = C.scoreLevel(value);
    byId("score-fill").style.width = (value || 0) + "%";
    byId("score-fill").dataset.level = C.scoreLevel(value);
    byId("explanation").textContent = (adherence && adherence.explanation) || "";
  }

  /* A step newly met, missed or overdue is said through the page's live region. */
  function announceStep(category, status) {
    var before = stepStatus[category.key];
    stepStatus[category.key] = status;
    if (announceSteps && status !== before && status !== "pending") C.announce("Step " + category.label + " " + status);
  }

  function setSentiment(sentiment) {
    var label = sentiment ? sentiment.label : null;
    if (announceSteps && label === "negative" && sentimentLabel !== "negative") {
      C.announce("Alert: the customer's sentiment turned negative");
    }
    sentimentLabel = label;
    var chip = byId("call-sentiment");
    chip.textContent = sentiment ? sentiment.label : "–";
    chip.dataset.sentiment = sentiment ? sentiment.label : "";
  }

  /* One card per operator, its latest insight: fields as the relay made them display-ready. */
  function setInsight(insight) {
    var list = byId("insights");
    var card = C.el("li", "insight");
    card.dataset.operator = insight.operatorId;
    var head = C.el("div", "op-head");
    head.appendChild(C.el("h3", "insight-name", insight.operatorName));
    head.appendChild(C.el("time", "op-time", C.clock(insight.timestamp)));
    card.appendChild(head);
    var chips = C.el("div", "insight-chips");
    insight.fields.forEach(function (field) {
      if (field.style === "entity") {
        chips.appendChild(C.el("span", "chip insight-entity", field.label + ": " + field.value));
        return;
      }
      var row = C.el("p", "insight-field insight-" + field.style);
      if (field.description) row.title = field.description;
      if (field.style !== "text" && field.key !== "label") row.appendChild(C.el("span", "insight-label", field.label + ": "));
      var value = C.el("span", field.style === "label" ? "chip insight-tone" : "insight-value", field.value);
      if (field.style === "label") value.dataset.tone = field.tone;
      row.appendChild(value);
      card.appendChild(row);
    });
    if (chips.children.length) card.appendChild(chips);
    var known = list.querySelector('[data-operator="' + insight.operatorId.replace(/"/g, "") + '"]');
    if (known) list.replaceChild(card, known); else list.appendChild(card);
    byId("insights-panel").hidden = false;
  }

  function addCoaching(note) {
    var list = byId("coaching");
    if (list.querySelector('[data-id="' + String(note.id).replace(/"/g, "") + '"]')) return;
    var item = C.el("li", "coaching-note");
    item.dataset.id = note.id;
    item.appendChild(C.el("time", "op-time", C.clock(note.timestamp)));
    item.appendChild(C.el("span", "coaching-text", " " + note.text));
    list.appendChild(item);
  }

  /* The send control: POST the note with the supervisor's board ticket; the note comes back on the stream. */
  function sendCoaching(event) {
    event.preventDefault();
    var text = byId("coaching-text").value.trim();
    var result = byId("coaching-result");
    if (!text) { result.textContent = "Write a note first."; return; }
    byId("coaching-send").disabled = true;
    C.postWithTicket("/api/calls/" + encodeURIComponent(session) + "/coaching", "board", {text: text})
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.error || "HTTP " + response.status);
          byId("coaching-text").value = "";
          result.textContent = "Sent.";
        });
      }).catch(function (error) {
        result.textContent = "Not sent: " + error.message;
      }).then(function () { byId("coaching-send").disabled = false; });
  }

  /* Alerts: each rule's latest state (the relay's alert frames, one per firing and one per clearing), with when its
     episode fired (every frame says, as firedAt) and on what evidence, which a clearing frame does not repeat: kept
     from the firing one. */
  var alerts = {};  // rule -> {alert, firedAt, evidence}
  var SEVERITY_RANK = {critical: 0, warning: 1, info: 2};
  var SEVERITY_TEXT = {critical: "Critical", warning: "Warning", info: "Info"};
  // The built-in negative-sentiment rule is the sentiment chip's own announcement (setSentiment): not said twice.
  var ANNOUNCED_ELSEWHERE = {"negative-sentiment": true};

  function setAlert(alert, live) {
    if (!alert || typeof alert.rule !== "string") return;
    var known = alerts[alert.rule];
    var sameEpisode = known && known.alert.episode === alert.episode;
    var firing = alert.state === "firing";
    alerts[alert.rule] = {
      alert: alert,
      firedAt: alert.firedAt || (firing ? alert.timestamp : sameEpisode ? known.firedAt : null),
      evidence: firing || !sameEpisode ? alert.evidence || [] : known.evidence
    };
    if (live && firing && !(known && known.alert.state === "firing" && sameEpisode) && !ANNOUNCED_ELSEWHERE[alert.rule]) {
      C.announce("Alert: " + alert.title);
    }
    renderAlerts();
  }

  /* A snapshot's alerts (each rule's latest frame): on a reconnect, what this page saw of an episode's firing stays. */
  function setAlerts(latest) {
    var seen = alerts;
    alerts = {};
    Object.keys(latest).forEach(function (rule) {
      if (seen[rule]) alerts[rule] = seen[rule];
      setAlert(latest[rule], false);
    });
    renderAlerts();
  }

  function timeEl(iso) {
    var node = C.el("time", null, C.clock(iso));
    node.dateTime = iso;
    return node;
  }

  /* The utterances (or operator results) an alert names as its evidence, as they are shown on this page. */
  function alertEvidence(entry) {
    var list = C.el("ul", "alert-evidence");
    list.setAttribute("aria-label", "Evidence for " + entry.alert.title);
    var said = [];
    entry.evidence.forEach(function (id) {
      var item;
      if (lines[id]) {
        said.push(id);
        item = C.el("li", "alert-utterance");
        item.appendChild(C.el("span", "speaker speaker-" + lines[id].dataset.speaker, lines[id].dataset.speaker));
        item.appendChild(C.el("q", "alert-quote", lines[id].querySelector(".text").textContent));
      } else if (results[id]) {
        item = C.el("li", "alert-result", "Result of " + results[id].querySelector(".op-name").textContent);
      }
      if (item) list.appendChild(item);
    });
    if (!list.children.length) return null;
    var box = C.el("div", "alert-evidence-box");
    box.appendChild(list);
    if (said.length) {
      var show = C.el("button", "step-timing alert-show", "Show in transcript");
      show.type = "button";
      show.addEventListener("click", function () { showEvidence(said); });
      box.appendChild(show);
    }
    return box;
  }

  function alertItem(entry) {
    var alert = entry.alert;
    var firing = alert.state === "firing";
    var item = C.el("li", "alert");
    item.dataset.rule = alert.rule;
    item.dataset.state = firing ? "firing" : "cleared";
    item.dataset.severity = alert.severity;
    var head = C.el("div", "alert-head");
    var severity = C.el("span", "chip alert-severity", SEVERITY_TEXT[alert.severity] || C.statusText(alert.severity));
    severity.dataset.severity = alert.severity;
    head.appendChild(severity);
    head.appendChild(C.el("h3", "alert-title", alert.title));
    var state = C.el("span", "chip alert-state", firing ? "Firing" : "Cleared");
    state.dataset.state = item.dataset.state;
    head.appendChild(state);
    item.appendChild(head);
    if (alert.why) item.appendChild(C.el("p", "alert-why", alert.why));
    var when = C.el("p", "alert-when");
    if (entry.firedAt) {
      when.appendChild(document.createTextNode("Fired "));
      when.appendChild(timeEl(entry.firedAt));
    }
    if (!firing) {
      when.appendChild(document.createTextNode(entry.firedAt ? ", cleared " : "Cleared "));
      when.appendChild(timeEl(alert.timestamp));
    }
    item.appendChild(when);
    var evidence = alertEvidence(entry);
    if (evidence) item.appendChild(evidence);
    return item;
  }

  function severityRank(alert) {
    return alert.severity in SEVERITY_RANK ? SEVERITY_RANK[alert.severity] : 3;
  }

  /* Firing before cleared, then the most severe first. */
  function renderAlerts() {
    var entries = Object.keys(alerts).map(function (rule) { return alerts[rule]; });
    entries.sort(function (a, b) {
      var firing = (a.alert.state === "firing" ? 0 : 1) - (b.alert.state === "firing" ? 0 : 1);
      var rank = severityRank(a.alert) - severityRank(b.alert);
      return firing || rank || String(a.alert.title).localeCompare(String(b.alert.title));
    });
    var list = byId("alerts");
    list.textContent = "";
    entries.forEach(function (entry) { list.appendChild(alertItem(entry)); });
    var count = entries.filter(function (e) { return e.alert.state === "firing"; }).length;
    byId("alerts-empty").hidden = entries.length > 0;
    byId("alerts-note").textContent = entries.length ? count + " firing" : "Alert rules the relay evaluates";
  }

  var summaryIsFinal = false;

  /* The post-call summary (final) replaces the running one and is never replaced by a late running one. */
  function setSummary(summary) {
    if (summaryIsFinal && !(summary && summary.final)) return;
    summaryIsFinal = Boolean(summary && summary.final);
    byId("summary").textContent = summary ? summary.text : "No summary yet.";
    byId("summary-title").textContent = summaryIsFinal ? "Post-call summary" : "Summary";
    byId("summary-note").textContent = summaryIsFinal ? "After the call" : "Refreshed every few utterances";
  }

  function setSuggestion(suggestion) {
    byId("suggestion-panel").hidden = !suggestion;
    byId("suggestion").textContent = suggestion ? suggestion.text : "";
    byId("suggestion-time").textContent = suggestion ? C.clock(suggestion.timestamp) : "";
  }

  /* The status chip: Twilio's call status when a status callback told it, else "Live" once anything of the
     call has come in, else "Waiting" (or "Not known" once the relay said it knows no such call). */
  function renderStatus() {
    var chip = byId("call-status");
    var value = callStatus ? callStatus.status : heard ? "live" : notKnown ? "not-known" : "unknown";
    chip.dataset.status = value;
    var words = {unknown: "Waiting", "not-known": "Not known", live: kind === "conversation" ? "Open" : "Live"};
    chip.textContent = words[value] || C.statusText(value);
  }

  function setStatus(status) {
    callStatus = status || null;
    renderStatus();
  }

  function heardOf() {
    heard = true;
    byId("call-unknown").hidden = true;
    renderStatus();
  }

  /* A snapshot with nothing in it: ask the relay whether it knows the call at all, and say so if not. The
     stream stays open, so the page fills in by itself if the call starts after all. */
  function checkKnown() {
    C.fetchWithTicket("/api/board/calls/" + encodeURIComponent(session), session).then(function (response) {
      if (response.status !== 404 || heard) return;
      return response.json().then(function (body) {
        if (heard) return;
        byId("call-unknown-text").textContent = body.error;
        byId("call-unknown").hidden = false;
        notKnown = true;
        renderStatus();
      });
    }).catch(function (error) {
      console.warn("cintel console: could not ask the relay about this call", error);
    });
  }

  function isEmpty(snapshot) {
    return !snapshot.transcript.length && !snapshot.operatorResults.length && !snapshot.adherence &&
      !snapshot.sentiment && !snapshot.summary && !snapshot.callStatus && !snapshot.suggestion;
  }

  function reset() {
    byId("transcript").textContent = "";
    byId("oplog").textContent = "";
    byId("insights").textContent = "";
    byId("coaching").textContent = "";
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
        setSuggestion(frame.suggestion);
        setStatus(frame.callStatus);
        Object.keys(frame.insights || {}).forEach(function (key) { setInsight(frame.insights[key]); });
        setAlerts(frame.alerts || {});
        Object.keys(frame.coaching || {}).map(function (key) { return frame.coaching[key]; })
          .sort(function (a, b) { return String(a.timestamp).localeCompare(String(b.timestamp)); })
          .forEach(addCoaching);
        announceSteps = true;
        if (isEmpty(frame)) checkKnown(); else heardOf();
        return;
      case "transcript": addLine(frame.data); break;
      case "operator-result": addResult(frame.data); break;
      case "adherence": renderChecklist(frame.data); break;
      case "sentiment": setSentiment(frame.data); break;
      case "summary": setSummary(frame.data); break;
      case "suggestion": setSuggestion(frame.data); break;
      case "call-status": setStatus(frame.data); break;
      case "dispute": break;  // the adherence frame that follows it carries the dispute to its step
      case "insight": setInsight(frame.data); break;
      case "coaching": addCoaching(frame.data); break;
      case "alert": setAlert(frame.data, true); break;
      default: return;  // connected, and types newer than this page
    }
    heardOf();
  }

  function start(options) {
    session = options.session;
    kind = options.kind;
    byId("coaching-form").addEventListener("submit", sendCoaching);
    fetch(options.scriptUrl).then(function (response) {
      if (!response.ok) throw new Error("script: HTTP " + response.status);
      return response.json();
    }).then(function (body) {
      script = body;
      renderChecklist(null);
      C.openStream(options.session, onFrame);
    }).catch(function () {
      C.showConnection("reconnecting");
      window.setTimeout(function () { start(options); }, 2000);
    });
  }

  return {start: start};
})();

/* Settings come from the script tag (no inline script, so a strict Content-Security-Policy can apply). */
window.CintelCall.start({session: document.currentScript.dataset.session,
                         kind: document.currentScript.dataset.kind,
                         scriptUrl: document.currentScript.dataset.scriptUrl});
