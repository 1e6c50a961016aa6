/* Plays one case of stream-client-cases.json against a stream client and returns what it saw.

   jest runs it against the plugin's StreamClient (plugin-cintel-rtt/src/feature/agent-assist/stream/
   StreamClient.cases.test.ts), which the live console runs too (built into its static/stream.js). The relay's side is faked here: ticket answers come from the
   case's "tickets" queue, the stream is an EventSource the steps open, drop or refuse, and timers run only
   when a step says "retry". The clock stands still at 0, so a status's nextRetryAt is its delay. */
module.exports = (function () {
  "use strict";

  var BACKEND = "https://relay.test";
  var CONNECTING = 0, OPEN = 1, CLOSED = 2;
  var realSetTimeout = setTimeout;

  function settle() {
    return new Promise(function (resolve) { realSetTimeout(resolve, 0); });
  }

  function reply(answer) {
    if (answer.network) return Promise.reject(new TypeError("Failed to fetch"));
    var status = answer.status || 200;
    var headers = {"retry-after": answer.retryAfter};
    var body = status === 200
      ? (answer.auth === "none" ? {ticket: null, auth: "none"} : {ticket: answer.ticket, expiresAt: "2026-11-25T15:00:00Z", auth: "flex"})
      : {error: "refused"};
    return Promise.resolve({
      status: status,
      ok: status >= 200 && status < 300,
      headers: {get: function (name) { return headers[name.toLowerCase()] || null; }},
      json: function () { return Promise.resolve(body); }
    });
  }

  /* Run ``testCase`` against ``createClient(options)``, which returns an object with start() and stop(). */
  function run(testCase, createClient) {
    var log = [];
    var tickets = testCase.tickets.slice();
    var sources = [];
    var timers = {};
    var nextHandle = 1;
    var finished = false;

    function fetchTicket(url, init) {
      var headers = (init && init.headers) || {};
      log.push({ticket: headers.Authorization || null, sessionId: JSON.parse(init.body).sessionId});
      if (url !== BACKEND + "/api/stream-ticket") throw new Error("unexpected request to " + url);
      if (!tickets.length) throw new Error("the case has no ticket answer left");
      return reply(tickets.shift());
    }

    function createEventSource(url) {
      var source = {readyState: CONNECTING, onopen: null, onmessage: null, onerror: null,
                    close: function () { source.readyState = CLOSED; }};
      log.push({stream: url.slice(BACKEND.length)});
      sources.push(source);
      return source;
    }

    var options = Object.assign({
      backendUrl: BACKEND,
      sessionId: testCase.sessionId || "CA5f0c2d7e9a8b4c3d2e1f0a9b8c7d6e5f",
      getToken: function () { return "flex-token"; },
      onFrame: function (frame, id) { log.push({frame: frame.type, id: id || null}); },
      onStatus: function (status) {
        if (finished) return;
        var entry = {status: status.state};
        if (status.error) entry.error = status.error;
        if (status.nextRetryAt !== undefined) entry.retryInMs = status.nextRetryAt;
        log.push(entry);
      },
      fetch: fetchTicket,
      createEventSource: createEventSource,
      timers: {
        setTimeout: function (callback, ms) { var h = nextHandle++; timers[h] = {callback: callback, ms: ms}; return h; },
        clearTimeout: function (handle) { delete timers[handle]; },
        now: function () { return 0; }
      },
      random: function () { return testCase.random || 0; }
    }, testCase.options || {});

    function latest() {
      if (!sources.length) throw new Error("no stream was opened");
      return sources[sources.length - 1];
    }

    var steps = {
      open: function () { var s = latest(); s.readyState = OPEN; s.onopen && s.onopen({}); },
      drop: function () { var s = latest(); s.readyState = CONNECTING; s.onerror && s.onerror({}); },
      refuse: function () { var s = latest(); s.readyState = CLOSED; s.onerror && s.onerror({}); },
      retry: function () {
        var handles = Object.keys(timers);
        if (handles.length !== 1) throw new Error(handles.length + " timers pending where one retry was expected");
        var timer = timers[handles[0]];
        delete timers[handles[0]];
        timer.callback();
      }
    };

    var client = createClient(options);
    client.start();
    return testCase.steps.reduce(function (previous, step) {
      return previous.then(function () {
        if (typeof step === "string" && step === "stop") client.stop();
        else if (typeof step === "string") steps[step]();
        else {
          var source = latest();
          var data = typeof step.emit === "string" ? step.emit : JSON.stringify(step.emit);
          if (source.onmessage) source.onmessage({data: data, lastEventId: step.id || ""});
        }
        return settle();
      });
    }, settle()).then(function () {
      // What is left running when the case ends; then the client is stopped without reporting it.
      log.push({pendingRetries: Object.keys(timers).map(function (h) { return timers[h].ms; }),
                openStreams: sources.filter(function (s) { return s.readyState !== CLOSED; }).length});
      finished = true;
      client.stop();
      return log;
    });
  }

  return {run: run, BACKEND: BACKEND};
})();
