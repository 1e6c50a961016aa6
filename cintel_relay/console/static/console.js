/* cintel-relay console: what the board and the call page share (streams, DOM and formatting helpers). */
"use strict";

window.Cintel = (function () {
  /* Stream access. The page's <script> tag says whether the relay wants tickets (CINTEL_STREAM_AUTH).
     With "flex", a supervisor's Flex token opens the console: /console#token=<manager.user.token>. A
     fragment never reaches a server or a log; it is kept in this tab's sessionStorage and taken out of
     the address bar at once. Each connect trades it for a ticket, as the Flex plugin does. */
  var settings = document.currentScript.dataset;
  var TOKEN_KEY = "cintel.flexToken";
  var SIGN_IN = "Sign-in needed: open the console as /console#token=<your Flex token>";
  var LABELS = {live: "Live", reconnecting: "Reconnecting…", connecting: "Connecting", offline: "Offline, retrying",
                stopped: "Stopped"};

  function takeToken() {
    var match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
    if (match) {
      window.sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
      window.history.replaceState(null, "", window.location.pathname + window.location.search);
    }
    return window.sessionStorage.getItem(TOKEN_KEY);
  }

  var token = takeToken();
  var signedOut = settings.streamAuth === "flex" && !token;

  /* The page's polite live region (#announcer): what a screen reader user should hear without looking.
     Rate-limited so a busy call does not chatter: messages that come within ANNOUNCE_GAP_MS of the last
     announcement wait and are read together, once. */
  var ANNOUNCE_GAP_MS = 2000;
  var pending = [];
  var lastAnnounced = 0;
  var flushTimer = null;

  function flushAnnouncements() {
    flushTimer = null;
    var region = document.getElementById("announcer");
    if (!region || !pending.length) return;
    lastAnnounced = Date.now();
    region.textContent = pending.join(". ") + ".";
    pending = [];
  }

  function announce(message) {
    if (pending.indexOf(message) < 0) pending.push(message);
    if (flushTimer) return;
    flushTimer = window.setTimeout(flushAnnouncements, Math.max(0, lastAnnounced + ANNOUNCE_GAP_MS - Date.now()));
  }

  /* Connection changes are announced as lost and back, not as every retry in between. */
  var connectionLost = false;
  var wasLive = false;

  function announceConnection(state, message) {
    if (state === "live") {
      if (connectionLost) announce("Connection back: updates are live again");
      connectionLost = false;
      wasLive = true;
    } else if (state === "refused") {
      announce(message);
    } else if (wasLive && !connectionLost && (state === "offline" || state === "reconnecting")) {
      connectionLost = true;
      announce("Connection lost: retrying, what is shown may be out of date");
    }
  }

  function showConnection(state, message) {
    var node = document.getElementById("connection");
    if (!node) return;
    announceConnection(state, message);
    node.dataset.state = state;
    node.title = message || "";
    node.querySelector(".label").textContent = state === "refused" ? message : LABELS[state] || state;
  }

  function showStatus(status) {
    var message = status.error;
    if (status.state === "refused") message += " Open the console again with a current supervisor's Flex token.";
    showConnection(status.state, message);
  }

  /* Open the SSE stream of a session ("board" for the board, at /api/board/stream) and keep it open, with
     the Flex plugin's own client (static/stream.js is built from it). The token came with the address, so
     a refused one is final: retrying could not change it. */
  function openStream(session, onFrame, streamPath) {
    if (signedOut) return showConnection("refused", SIGN_IN);
    new window.CintelStream.StreamClient({
      backendUrl: window.location.origin, sessionId: session, streamPath: streamPath,
      getToken: function () { return token || undefined; }, retryRefusals: false,
      onFrame: onFrame, onStatus: showStatus
    }).start();
  }

  /* A one-off GET of a session's data with the same ticket a stream would need; resolves to the Response. */
  function fetchWithTicket(path, session) {
    if (signedOut) return Promise.reject(new Error(SIGN_IN));
    return window.CintelStream.requestTicket({
      fetch: window.fetch.bind(window), backendUrl: window.location.origin, sessionId: session, token: token || undefined
    }).then(function (ticket) {
      return window.fetch(ticket ? path + "?ticket=" + encodeURIComponent(ticket) : path);
    });
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function duration(ms) {
    var total = Math.max(0, Math.floor(ms / 1000));
    var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    var mm = (h ? String(m).padStart(2, "0") : String(m)) + ":" + String(s).padStart(2, "0");
    return h ? h + ":" + mm : mm;
  }

  function clock(iso) {
    var date = new Date(iso);
    if (isNaN(date)) return "";
    return date.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit", second: "2-digit"});
  }

  function statusText(status) {
    var text = String(status).replace(/-/g, " ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  var CHANNELS = {VOICE: "Voice", SMS: "SMS", WHATSAPP: "WhatsApp", RCS: "RCS", CHAT: "Chat", EMAIL: "Email"};

  /* A channel's name as people write it: SMS, WhatsApp, Voice. */
  function channelName(channel) {
    var key = String(channel).toUpperCase();
    return CHANNELS[key] || key.charAt(0) + key.slice(1).toLowerCase();
  }

  /* What a session is, as the relay says (a summary's kind): "SMS conversation" for a thread with no call. */
  function kindText(kind, channels) {
    if (kind !== "conversation") return "Call";
    var names = (channels || []).map(channelName);
    return names.length ? names.join(" and ") + " conversation" : "Conversation";
  }

  function score(value) {
    return value === undefined || value === null ? "–" : Math.round(value) + "%";
  }

  function scoreLevel(value) {
    if (value === undefined || value === null) return "none";
    return value >= 70 ? "good" : value >= 40 ? "fair" : "poor";
  }

  /* What a supervisor should look at: a script step the relay announced overdue, a step the agent disputes,
     and a customer turning negative. The relay decides each step's `due` and `dispute`; nothing is guessed here. */
  function flags(checklist, sentiment) {
    var out = [];
    (checklist || []).forEach(function (item) {
      if (item.due === "overdue") out.push({kind: "overdue", text: item.label + " overdue"});
      if (item.dispute && item.dispute.status === "open") out.push({kind: "disputed", text: item.label + " disputed"});
    });
    if (sentiment === "negative") out.push({kind: "negative", text: "Negative sentiment"});
    return out;
  }

  /* When a step was done against its deadline, as the relay measured it from the call's start:
     "0:42 of 0:50", "0:42", "due by 0:50", or "" when there is nothing to say. */
  function timing(item) {
    var done = typeof item.metAfterSeconds === "number" && item.status === "met";
    var within = typeof item.withinSeconds === "number" ? duration(item.withinSeconds * 1000) : null;
    if (done) return duration(item.metAfterSeconds * 1000) + (within ? " of " + within : "");
    return within ? "due by " + within : "";
  }

  /* POST JSON about a session with the same ticket its stream would need; resolves to the Response. */
  function postWithTicket(path, session, body) {
    if (signedOut) return Promise.reject(new Error(SIGN_IN));
    return window.CintelStream.requestTicket({
      fetch: window.fetch.bind(window), backendUrl: window.location.origin, sessionId: session, token: token || undefined
    }).then(function (ticket) {
      return window.fetch(ticket ? path + "?ticket=" + encodeURIComponent(ticket) : path, {
        method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)
      });
    });
  }

  /* The board's flags: the alert rules the relay says are firing on a call (its summary's alerts), and the steps an
     agent disputes. The built-in step-overdue rule names each late step; negative sentiment and the catalog's rules
     show their titles. */
  var FLAG_ORDER = {"step-overdue": 0, "negative-sentiment": 1};

  function alertFlags(call) {
    var alerts = (call && call.alerts) || {};
    var out = [];
    Object.keys(alerts).sort(function (a, b) {
      return (a in FLAG_ORDER ? FLAG_ORDER[a] : 2) - (b in FLAG_ORDER ? FLAG_ORDER[b] : 2) || (a < b ? -1 : a > b ? 1 : 0);
    }).forEach(function (rule) {
      var alert = alerts[rule];
      if (rule === "step-overdue") {
        String(alert.why).split(", ").forEach(function (text) { out.push({kind: "overdue", text: text, why: text}); });
      } else if (rule === "negative-sentiment") {
        out.push({kind: "negative", text: alert.title, why: alert.why});
      } else {
        out.push({kind: "alert-" + alert.severity, text: alert.title, why: alert.why});
      }
    });
    var disputed = flags(call && call.checklist).filter(function (flag) { return flag.kind === "disputed"; });
    var overdue = out.filter(function (flag) { return flag.kind === "overdue"; }).length;
    out.splice.apply(out, [overdue, 0].concat(disputed));
    return out;
  }

  return {
    alertFlags: alertFlags,
    openStream: openStream, fetchWithTicket: fetchWithTicket, postWithTicket: postWithTicket, el: el,
    duration: duration, clock: clock, score: score, statusText: statusText, scoreLevel: scoreLevel, flags: flags,
    timing: timing, showConnection: showConnection, announce: announce, channelName: channelName, kindText: kindText
  };
})();
