/* cintel-relay console: what the board and the call page share (streams, DOM and formatting helpers). */
"use strict";

window.Cintel = (function () {
  var MAX_RETRY_MS = 10000;

  /* The one place a stream URL is built. When the relay requires stream authentication
     (CINTEL_STREAM_AUTH), this is where the ticket is added to the URL. */
  function streamUrl(path, lastEventId) {
    var url = new URL(path, window.location.origin);
    if (lastEventId) url.searchParams.set("lastEventId", lastEventId);
    return url.toString();
  }

  function showConnection(state) {
    var node = document.getElementById("connection");
    if (!node) return;
    node.dataset.state = state;
    node.querySelector(".label").textContent =
      {live: "Live", reconnecting: "Reconnecting…", connecting: "Connecting"}[state] || state;
  }

  /* Open an SSE stream and keep it open. The browser reconnects by itself (sending Last-Event-ID);
     when it gives up (an HTTP error while the relay restarts), reopen with ?lastEventId= and back off. */
  function openStream(path, onFrame) {
    var lastId = null;
    var delay = 1000;
    function connect() {
      var source = new EventSource(streamUrl(path, lastId));
      source.onopen = function () { delay = 1000; showConnection("live"); };
      source.onmessage = function (event) {
        if (event.lastEventId) lastId = event.lastEventId;
        onFrame(JSON.parse(event.data));
      };
      source.onerror = function () {
        showConnection("reconnecting");
        if (source.readyState === EventSource.CLOSED) {
          window.setTimeout(connect, delay);
          delay = Math.min(delay * 2, MAX_RETRY_MS);
        }
      };
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
