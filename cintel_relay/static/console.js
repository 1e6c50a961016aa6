/* cintel-relay console: what the board and the call page share (streams, DOM and formatting helpers). */
"use strict";

window.Cintel = (function () {
  var MAX_RETRY_MS = 10000;

  /* Stream access. The page's <script> tag says whether the relay wants tickets (CINTEL_STREAM_AUTH).
     With "flex", a supervisor's Flex token opens the console: /console#token=<manager.user.token>. A
     fragment never reaches a server or a log; it is kept in this tab's sessionStorage and taken out of
     the address bar at once. Each connect trades it for a ticket, as the Flex plugin does. */
  var settings = document.currentScript.dataset;
  var TOKEN_KEY = "cintel.flexToken";

  function takeToken() {
    var match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
    if (match) {
      window.sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
      window.history.replaceState(null, "", window.location.pathname + window.location.search);
    }
    return window.sessionStorage.getItem(TOKEN_KEY);
  }

  var token = takeToken();

  function Refused(message, retry) {
    this.message = message;
    this.retry = retry;
  }

  /* A ticket for a session ("board" for the board), or null when streams are open. */
  function ticketFor(session) {
    if (settings.streamAuth !== "flex") return Promise.resolve(null);
    if (!token) {
      return Promise.reject(new Refused("Sign-in needed: open the console as /console#token=<your Flex token>", false));
    }
    return fetch(settings.ticketUrl, {
      method: "POST",
      headers: {"Content-Type": "application/json", "Authorization": "Bearer " + token},
      body: JSON.stringify({sessionId: session})
    }).then(function (response) {
      return response.json().then(function (body) {
        if (response.ok) return body.ticket;
        var refusal = response.status === 401 || response.status === 403;
        throw new Refused((body.error || "HTTP " + response.status) +
          (refusal ? " Open the console again with a current supervisor's Flex token." : ""), !refusal);
      });
    });
  }

  /* The one place a stream URL is built. */
  function streamUrl(path, lastEventId, ticket) {
    var url = new URL(path, window.location.origin);
    if (ticket) url.searchParams.set("ticket", ticket);
    if (lastEventId) url.searchParams.set("lastEventId", lastEventId);
    return url.toString();
  }

  function showConnection(state, message) {
    var node = document.getElementById("connection");
    if (!node) return;
    node.dataset.state = state;
    node.title = message || "";
    node.querySelector(".label").textContent = message ||
      {live: "Live", reconnecting: "Reconnecting…", connecting: "Connecting"}[state] || state;
  }

  /* Open an SSE stream for a session and keep it open. The browser reconnects by itself (sending
     Last-Event-ID); when it gives up (an HTTP error while the relay restarts, or a ticket that has
     expired), get a new ticket and reopen with ?lastEventId=, backing off. A refused sign-in stops. */
  function openStream(path, session, onFrame) {
    var lastId = null;
    var delay = 1000;
    function retry() {
      showConnection("reconnecting");
      window.setTimeout(connect, delay);
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    }
    function connect() {
      ticketFor(session).then(function (ticket) {
        var source = new EventSource(streamUrl(path, lastId, ticket));
        source.onopen = function () { delay = 1000; showConnection("live"); };
        source.onmessage = function (event) {
          if (event.lastEventId) lastId = event.lastEventId;
          onFrame(JSON.parse(event.data));
        };
        source.onerror = function () {
          if (source.readyState === EventSource.CLOSED) retry(); else showConnection("reconnecting");
        };
      }).catch(function (error) {
        if (error instanceof Refused && !error.retry) showConnection("refused", error.message); else retry();
      });
    }
    connect();
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

  function score(value) {
    return value === undefined || value === null ? "–" : Math.round(value) + "%";
  }

  function scoreLevel(value) {
    if (value === undefined || value === null) return "none";
    return value >= 70 ? "good" : value >= 40 ? "fair" : "poor";
  }

  /* What a supervisor should look at: a script step skipped or failed, and a customer turning negative.
     A step is overdue when the model marked it missed, or when a later step is met while it is not. */
  function flags(checklist, sentiment) {
    var out = [];
    var laterMet = false;
    var items = checklist || [];
    for (var i = items.length - 1; i >= 0; i--) {
      var item = items[i];
      if (item.status === "met") laterMet = true;
      else if (item.status === "missed" || laterMet) out.unshift({kind: "overdue", text: item.label + " overdue"});
    }
    if (sentiment === "negative") out.push({kind: "negative", text: "Negative sentiment"});
    return out;
  }

  return {
    openStream: openStream, el: el, duration: duration, clock: clock, score: score, statusText: statusText,
    scoreLevel: scoreLevel, flags: flags, showConnection: showConnection
  };
})();
