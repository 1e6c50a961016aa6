/* The live console's stream client: built from plugin-cintel-rtt/src/feature/agent-assist/stream/ by
   `npm --prefix plugin-cintel-rtt run console:build`. Do not edit: change the plugin's client and build. */
"use strict";
(() => {
  var __defProp = Object.defineProperty;
  var __getOwnPropSymbols = Object.getOwnPropertySymbols;
  var __hasOwnProp = Object.prototype.hasOwnProperty;
  var __propIsEnum = Object.prototype.propertyIsEnumerable;
  var __defNormalProp = (obj, key, value) => key in obj ? __defProp(obj, key, { enumerable: true, configurable: true, writable: true, value }) : obj[key] = value;
  var __spreadValues = (a, b) => {
    for (var prop in b || (b = {}))
      if (__hasOwnProp.call(b, prop))
        __defNormalProp(a, prop, b[prop]);
    if (__getOwnPropSymbols)
      for (var prop of __getOwnPropSymbols(b)) {
        if (__propIsEnum.call(b, prop))
          __defNormalProp(a, prop, b[prop]);
      }
    return a;
  };

  // src/feature/agent-assist/stream/backoff.ts
  var DEFAULT_BACKOFF = { initialMs: 1e3, maxMs: 3e4, factor: 2, jitter: 0.5 };
  function backoffDelay(attempt, policy, random) {
    const exponent = Math.max(0, attempt - 1);
    const base = Math.min(policy.maxMs, policy.initialMs * Math.pow(policy.factor, exponent));
    const jitter = Math.min(1, Math.max(0, policy.jitter));
    return Math.round(base * (1 - jitter * random()));
  }

  // src/feature/agent-assist/stream/ticket.ts
  var TicketError = class extends Error {
    constructor(message, status, retryAfterMs2) {
      super(message);
      this.name = "TicketError";
      this.status = status;
      this.retryAfterMs = retryAfterMs2;
    }
  };
  function retryAfterMs(response) {
    const header = response.headers.get("Retry-After");
    if (!header) return void 0;
    const seconds = Number(header);
    return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1e3 : void 0;
  }
  function refusal(status) {
    switch (status) {
      case 401:
        return "Your Flex session was refused or has expired (401): reload Flex to sign in again.";
      case 403:
        return "You are not allowed to follow this call (403).";
      case 429:
        return "The relay is rate limiting stream requests (429).";
      default:
        return `The relay answered ${status} to the stream ticket request.`;
    }
  }
  async function requestTicket(request) {
    const headers = { "Content-Type": "application/json" };
    if (request.token) headers.Authorization = `Bearer ${request.token}`;
    const response = await request.fetch(`${request.backendUrl}/api/stream-ticket`, {
      method: "POST",
      headers,
      body: JSON.stringify({ sessionId: request.sessionId }),
      signal: request.signal
    });
    if (response.status === 404) return null;
    if (!response.ok) {
      throw new TicketError(refusal(response.status), response.status, retryAfterMs(response));
    }
    const body = await response.json();
    if (body.auth === "none" || !body.ticket) return null;
    return body.ticket;
  }

  // src/feature/agent-assist/stream/StreamClient.ts
  var EVENT_SOURCE_CLOSED = 2;
  var defaultTimers = {
    setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
    clearTimeout: (handle) => globalThis.clearTimeout(handle),
    now: () => Date.now()
  };
  var StreamClient = class {
    constructor(options) {
      this.status = { state: "connecting" };
      this.started = false;
      this.stopped = false;
      this.failures = 0;
      this.source = null;
      this.retryTimer = null;
      this.ticketAbort = null;
      var _a, _b, _c, _d, _e;
      this.options = options;
      this.fetchImpl = (_a = options.fetch) != null ? _a : (input, init) => globalThis.fetch(input, init);
      this.createEventSource = (_b = options.createEventSource) != null ? _b : (url) => new EventSource(url);
      this.timers = (_c = options.timers) != null ? _c : defaultTimers;
      this.random = (_d = options.random) != null ? _d : Math.random;
      this.backoff = __spreadValues(__spreadValues({}, DEFAULT_BACKOFF), options.backoff);
      this.offlineAfter = (_e = options.offlineAfter) != null ? _e : 3;
    }
    get connectionStatus() {
      return this.status;
    }
    /** Open the stream; safe to call once. */
    start() {
      if (this.started) return;
      this.started = true;
      this.setStatus({ state: "connecting" });
      void this.connect();
    }
    /** Close the stream and cancel every pending timer and request; the client cannot restart. */
    stop() {
      var _a;
      if (this.stopped) return;
      this.stopped = true;
      this.closeSource();
      if (this.retryTimer !== null) {
        this.timers.clearTimeout(this.retryTimer);
        this.retryTimer = null;
      }
      (_a = this.ticketAbort) == null ? void 0 : _a.abort();
      this.ticketAbort = null;
      this.setStatus({ state: "stopped" });
    }
    async connect() {
      const abort = typeof AbortController === "undefined" ? null : new AbortController();
      this.ticketAbort = abort;
      let ticket;
      try {
        ticket = await requestTicket({
          fetch: this.fetchImpl,
          backendUrl: this.options.backendUrl,
          sessionId: this.options.sessionId,
          token: this.options.getToken(),
          signal: abort == null ? void 0 : abort.signal
        });
      } catch (error) {
        if (this.stopped) return;
        if (this.isFinal(error)) {
          this.setStatus({ state: "refused", error: describe(error) });
          return;
        }
        const retryAfterMs2 = error instanceof TicketError ? error.retryAfterMs : void 0;
        this.fail(describe(error), retryAfterMs2);
        return;
      } finally {
        if (this.ticketAbort === abort) this.ticketAbort = null;
      }
      if (this.stopped) return;
      this.open(ticket);
    }
    open(ticket) {
      const source = this.createEventSource(this.streamUrl(ticket));
      this.source = source;
      source.onopen = () => {
        if (this.source !== source) return;
        this.failures = 0;
        this.setStatus({ state: "live" });
      };
      source.onmessage = (event) => {
        if (this.source !== source) return;
        this.handleMessage(event);
      };
      source.onerror = () => {
        if (this.source !== source) return;
        const refused = source.readyState === EVENT_SOURCE_CLOSED;
        this.closeSource();
        this.fail(refused ? "The relay refused the stream." : "The stream was interrupted.");
      };
    }
    handleMessage(event) {
      if (event.lastEventId) this.lastEventId = event.lastEventId;
      let frame;
      try {
        frame = JSON.parse(String(event.data));
      } catch (error) {
        console.warn("cintel-rtt: ignoring a stream frame that is not JSON", error);
        return;
      }
      if (typeof frame !== "object" || frame === null || typeof frame.type !== "string") {
        return;
      }
      this.options.onFrame(frame, event.lastEventId || void 0);
    }
    isFinal(error) {
      var _a;
      if ((_a = this.options.retryRefusals) != null ? _a : true) return false;
      return error instanceof TicketError && (error.status === 401 || error.status === 403);
    }
    fail(error, minimumDelayMs) {
      if (this.stopped) return;
      this.failures += 1;
      const delay = Math.max(backoffDelay(this.failures, this.backoff, this.random), minimumDelayMs != null ? minimumDelayMs : 0);
      const state = this.failures >= this.offlineAfter ? "offline" : "reconnecting";
      this.setStatus({ state, error, nextRetryAt: this.timers.now() + delay });
      this.retryTimer = this.timers.setTimeout(() => {
        this.retryTimer = null;
        if (!this.stopped) void this.connect();
      }, delay);
    }
    closeSource() {
      if (!this.source) return;
      const source = this.source;
      this.source = null;
      source.onopen = null;
      source.onmessage = null;
      source.onerror = null;
      source.close();
    }
    streamUrl(ticket) {
      var _a;
      const params = new URLSearchParams();
      if (ticket) params.set("ticket", ticket);
      if (this.lastEventId) params.set("lastEventId", this.lastEventId);
      const query = params.toString();
      const streamPath = (_a = this.options.streamPath) != null ? _a : `/api/stream/${encodeURIComponent(this.options.sessionId)}`;
      const path = `${this.options.backendUrl}${streamPath}`;
      return query ? `${path}?${query}` : path;
    }
    setStatus(status) {
      var _a, _b;
      this.status = status;
      (_b = (_a = this.options).onStatus) == null ? void 0 : _b.call(_a, status);
    }
  };
  function describe(error) {
    if (error instanceof TicketError) return error.message;
    return "The relay cannot be reached.";
  }

  // src/feature/agent-assist/stream/console.ts
  globalThis.CintelStream = {
    StreamClient,
    requestTicket,
    backoffDelay
  };
})();
