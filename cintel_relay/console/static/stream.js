/* The console's client of a relay SSE stream: a ticket per attempt, EventSource, backoff, resume.

   It behaves as the Flex plugin's StreamClient (plugin-cintel-rtt/src/feature/agent-assist/stream/
   StreamClient.ts): both are run against tests/contract/stream-client-cases.json, this one in Chromium.
   EventSource, fetch, timers and randomness can be injected, as there. */
"use strict";

window.CintelStream = (function () {
  var EVENT_SOURCE_CLOSED = 2;
  var DEFAULT_BACKOFF = {initialMs: 1000, maxMs: 30000, factor: 2, jitter: 0.5};

  /* Delay before retry number `attempt` (1-based): capped exponential, and jitter only shortens it, so
     the cap holds and clients that lost the relay together do not come back in lockstep. */
  function backoffDelay(attempt, policy, random) {
    var base = Math.min(policy.maxMs, policy.initialMs * Math.pow(policy.factor, Math.max(0, attempt - 1)));
    var jitter = Math.min(1, Math.max(0, policy.jitter));
    return Math.round(base * (1 - jitter * random()));
  }

  function TicketError(message, status, retryAfterMs) {
    this.message = message;
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }

  function refusal(status) {
    switch (status) {
      case 401: return "Your Flex session was refused or has expired (401): reload Flex to sign in again.";
      case 403: return "You are not allowed to follow this call (403).";
      case 429: return "The relay is rate limiting stream requests (429).";
      default: return "The relay answered " + status + " to the stream ticket request.";
    }
  }

  function retryAfterMs(response) {
    var header = response.headers.get("Retry-After");
    if (!header) return undefined;
    var seconds = Number(header);
    return isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
  }

  /* A ticket for the session, or null when the relay runs without stream auth or predates tickets. */
  function requestTicket(fetchImpl, backendUrl, sessionId, token) {
    var headers = {"Content-Type": "application/json"};
    if (token) headers.Authorization = "Bearer " + token;
    return fetchImpl(backendUrl + "/api/stream-ticket", {
      method: "POST", headers: headers, body: JSON.stringify({sessionId: sessionId})
    }).then(function (response) {
      if (response.status === 404) return null;
      if (!response.ok) throw new TicketError(refusal(response.status), response.status, retryAfterMs(response));
      return response.json().then(function (body) {
        return body.auth === "none" || !body.ticket ? null : body.ticket;
      });
    });
  }

  var defaultTimers = {
    setTimeout: function (callback, ms) { return window.setTimeout(callback, ms); },
    clearTimeout: function (handle) { window.clearTimeout(handle); },
    now: function () { return Date.now(); }
  };

  /* Options as the plugin's StreamClientOptions: backendUrl, sessionId, getToken, onFrame(frame, id),
     onStatus({state, error, nextRetryAt}), and optionally fetch, createEventSource, timers, random,
     backoff, offlineAfter, streamPath, retryRefusals. */
  function StreamClient(options) {
    this.options = options;
    this.fetchImpl = options.fetch || function (input, init) { return window.fetch(input, init); };
    this.createEventSource = options.createEventSource || function (url) { return new EventSource(url); };
    this.timers = options.timers || defaultTimers;
    this.random = options.random || Math.random;
    this.backoff = Object.assign({}, DEFAULT_BACKOFF, options.backoff);
    this.offlineAfter = options.offlineAfter || 3;
    this.started = false;
    this.stopped = false;
    this.failures = 0;
    this.lastEventId = undefined;
    this.source = null;
    this.retryTimer = null;
  }

  StreamClient.prototype.start = function () {
    if (this.started) return;
    this.started = true;
    this.setStatus({state: "connecting"});
    this.connect();
  };

  StreamClient.prototype.stop = function () {
    if (this.stopped) return;
    this.stopped = true;
    this.closeSource();
    if (this.retryTimer !== null) {
      this.timers.clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    this.setStatus({state: "stopped"});
  };

  StreamClient.prototype.connect = function () {
    var self = this;
    var o = this.options;
    // A fresh ticket on every attempt: tickets expire, and a refused stream needs a new one.
    requestTicket(this.fetchImpl, o.backendUrl, o.sessionId, o.getToken()).then(function (ticket) {
      if (!self.stopped) self.open(ticket);
    }, function (error) {
      if (self.stopped) return;
      var message = error instanceof TicketError ? error.message : "The relay cannot be reached.";
      var refused = error instanceof TicketError && (error.status === 401 || error.status === 403);
      if (refused && o.retryRefusals === false) self.setStatus({state: "refused", error: message});
      else self.fail(message, error instanceof TicketError ? error.retryAfterMs : undefined);
    });
  };

  StreamClient.prototype.open = function (ticket) {
    var self = this;
    var source = this.createEventSource(this.streamUrl(ticket));
    this.source = source;
    source.onopen = function () {
      if (self.source !== source) return;
      self.failures = 0;
      self.setStatus({state: "live"});
    };
    source.onmessage = function (event) {
      if (self.source === source) self.handleMessage(event);
    };
    source.onerror = function () {
      if (self.source !== source) return;
      // CLOSED: the relay answered an error status and the browser gave up; CONNECTING: the connection
      // dropped. Either way reopen under this backoff with a new ticket, not the browser's retry.
      var refused = source.readyState === EVENT_SOURCE_CLOSED;
      self.closeSource();
      self.fail(refused ? "The relay refused the stream." : "The stream was interrupted.");
    };
  };

  StreamClient.prototype.handleMessage = function (event) {
    if (event.lastEventId) this.lastEventId = event.lastEventId;
    var frame;
    try {
      frame = JSON.parse(String(event.data));
    } catch (error) {
      // One malformed frame must not end the stream; the next logged event carries on.
      console.warn("cintel console: ignoring a stream frame that is not JSON", error);
      return;
    }
    if (typeof frame !== "object" || frame === null || typeof frame.type !== "string") return;
    this.options.onFrame(frame, event.lastEventId || undefined);
  };

  StreamClient.prototype.fail = function (error, minimumDelayMs) {
    var self = this;
    this.failures += 1;
    var delay = Math.max(backoffDelay(this.failures, this.backoff, this.random), minimumDelayMs || 0);
    var state = this.failures >= this.offlineAfter ? "offline" : "reconnecting";
    this.setStatus({state: state, error: error, nextRetryAt: this.timers.now() + delay});
    this.retryTimer = this.timers.setTimeout(function () {
      self.retryTimer = null;
      if (!self.stopped) self.connect();
    }, delay);
  };

  StreamClient.prototype.closeSource = function () {
    if (!this.source) return;
    var source = this.source;
    this.source = null;
    source.onopen = source.onmessage = source.onerror = null;
    source.close();
  };

  StreamClient.prototype.streamUrl = function (ticket) {
    var o = this.options;
    var params = new URLSearchParams();
    if (ticket) params.set("ticket", ticket);
    if (this.lastEventId) params.set("lastEventId", this.lastEventId);
    var query = params.toString();
    var path = o.backendUrl + (o.streamPath || "/api/stream/" + encodeURIComponent(o.sessionId));
    return query ? path + "?" + query : path;
  };

  StreamClient.prototype.setStatus = function (status) {
    if (this.options.onStatus) this.options.onStatus(status);
  };

  return {StreamClient: StreamClient, requestTicket: requestTicket, backoffDelay: backoffDelay};
})();
