/**
 * Client of the relay's SSE stream for one session: ticket, EventSource, backoff, resume.
 *
 * No React here. EventSource, fetch, timers and randomness are injected so tests drive it, against the cases in
 * tests/contract/stream-client-cases.json. The live console runs this same client, built by console/build.js.
 */
import type { UnknownFrame } from '../types';
import { backoffDelay, BackoffPolicy, DEFAULT_BACKOFF } from './backoff';
import { requestTicket, TicketError } from './ticket';

/**
 * `connecting`: first attempt; `live`: stream open; `reconnecting`: retrying after a failure;
 * `offline`: several attempts in a row failed (still retrying at the capped delay);
 * `refused`: the ticket was refused (401/403) and `retryRefusals` is off, so the client gave up;
 * `stopped`: stop() was called.
 */
export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'offline' | 'refused' | 'stopped';

export interface ConnectionStatus {
  state: ConnectionState;
  /** Why the last attempt failed, for the agent; never contains the token or ticket. */
  error?: string;
  /** Epoch ms of the next attempt, while waiting for one. */
  nextRetryAt?: number;
}

/** The subset of the browser EventSource the client uses. */
export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  close(): void;
}

export type EventSourceFactory = (url: string) => EventSourceLike;

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}

export interface StreamClientOptions {
  backendUrl: string;
  sessionId: string;
  /** Returns the agent's current Flex token (it is refreshed by Flex, so ask each time). */
  getToken: () => string | undefined;
  /** Called with every parsed frame, known type or not, in stream order. */
  onFrame: (frame: UnknownFrame, eventId: string | undefined) => void;
  onStatus?: (status: ConnectionStatus) => void;
  fetch?: FetchLike;
  createEventSource?: EventSourceFactory;
  timers?: Timers;
  random?: () => number;
  backoff?: Partial<BackoffPolicy>;
  /** Consecutive failed attempts after which the state becomes `offline`. */
  offlineAfter?: number;
  /** The stream's path on the relay; `/api/stream/<sessionId>` unless given. */
  streamPath?: string;
  /**
   * Retry after a 401/403 ticket refusal (default true: Flex renews the token, and an agent's access
   * can follow a task's assignment). Off for a token that cannot change, such as the console's.
   */
  retryRefusals?: boolean;
}

const EVENT_SOURCE_CLOSED = 2;

const defaultTimers: Timers = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
  now: () => Date.now(),
};

export class StreamClient {
  private readonly options: StreamClientOptions;
  private readonly fetchImpl: FetchLike;
  private readonly createEventSource: EventSourceFactory;
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly backoff: BackoffPolicy;
  private readonly offlineAfter: number;

  private status: ConnectionStatus = { state: 'connecting' };
  private started = false;
  private stopped = false;
  private failures = 0;
  private lastEventId: string | undefined;
  private source: EventSourceLike | null = null;
  private retryTimer: unknown = null;
  private ticketAbort: AbortController | null = null;

  constructor(options: StreamClientOptions) {
    this.options = options;
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.createEventSource = options.createEventSource ?? ((url) => new EventSource(url));
    this.timers = options.timers ?? defaultTimers;
    this.random = options.random ?? Math.random;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.offlineAfter = options.offlineAfter ?? 3;
  }

  get connectionStatus(): ConnectionStatus {
    return this.status;
  }

  /** Open the stream; safe to call once. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.setStatus({ state: 'connecting' });
    void this.connect();
  }

  /** Close the stream and cancel every pending timer and request; the client cannot restart. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.closeSource();
    if (this.retryTimer !== null) {
      this.timers.clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    this.ticketAbort?.abort();
    this.ticketAbort = null;
    this.setStatus({ state: 'stopped' });
  }

  private async connect(): Promise<void> {
    const abort = typeof AbortController === 'undefined' ? null : new AbortController();
    this.ticketAbort = abort;
    let ticket: string | null;
    try {
      // A fresh ticket on every attempt: tickets expire, and a refused stream needs a new one.
      ticket = await requestTicket({
        fetch: this.fetchImpl,
        backendUrl: this.options.backendUrl,
        sessionId: this.options.sessionId,
        token: this.options.getToken(),
        signal: abort?.signal,
      });
    } catch (error) {
      if (this.stopped) return;
      if (this.isFinal(error)) {
        this.setStatus({ state: 'refused', error: describe(error) });
        return;
      }
      const retryAfterMs = error instanceof TicketError ? error.retryAfterMs : undefined;
      this.fail(describe(error), retryAfterMs);
      return;
    } finally {
      if (this.ticketAbort === abort) this.ticketAbort = null;
    }
    if (this.stopped) return;
    this.open(ticket);
  }

  private open(ticket: string | null): void {
    const source = this.createEventSource(this.streamUrl(ticket));
    this.source = source;
    source.onopen = () => {
      if (this.source !== source) return;
      this.failures = 0;
      this.setStatus({ state: 'live' });
    };
    source.onmessage = (event: MessageEvent) => {
      if (this.source !== source) return;
      this.handleMessage(event);
    };
    source.onerror = () => {
      if (this.source !== source) return;
      // CLOSED: the relay answered with an error status (e.g. a refused ticket) and the browser
      // gave up. CONNECTING: the connection dropped. Either way reopen under our own backoff, with
      // a new ticket, rather than the browser's fixed-interval retry with the old URL.
      const refused = source.readyState === EVENT_SOURCE_CLOSED;
      this.closeSource();
      this.fail(refused ? 'The relay refused the stream.' : 'The stream was interrupted.');
    };
  }

  private handleMessage(event: MessageEvent): void {
    if (event.lastEventId) this.lastEventId = event.lastEventId;
    let frame: unknown;
    try {
      frame = JSON.parse(String(event.data));
    } catch (error) {
      // One malformed frame must not end the stream; the next logged event carries on.
      console.warn('cintel-rtt: ignoring a stream frame that is not JSON', error);
      return;
    }
    if (typeof frame !== 'object' || frame === null || typeof (frame as UnknownFrame).type !== 'string') {
      return;
    }
    this.options.onFrame(frame as UnknownFrame, event.lastEventId || undefined);
  }

  private isFinal(error: unknown): boolean {
    if (this.options.retryRefusals ?? true) return false;
    return error instanceof TicketError && (error.status === 401 || error.status === 403);
  }

  private fail(error: string, minimumDelayMs?: number): void {
    if (this.stopped) return;
    this.failures += 1;
    const delay = Math.max(backoffDelay(this.failures, this.backoff, this.random), minimumDelayMs ?? 0);
    const state: ConnectionState = this.failures >= this.offlineAfter ? 'offline' : 'reconnecting';
    this.setStatus({ state, error, nextRetryAt: this.timers.now() + delay });
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped) void this.connect();
    }, delay);
  }

  private closeSource(): void {
    if (!this.source) return;
    const source = this.source;
    this.source = null;
    source.onopen = null;
    source.onmessage = null;
    source.onerror = null;
    source.close();
  }

  private streamUrl(ticket: string | null): string {
    const params = new URLSearchParams();
    if (ticket) params.set('ticket', ticket);
    if (this.lastEventId) params.set('lastEventId', this.lastEventId);
    const query = params.toString();
    const streamPath = this.options.streamPath ?? `/api/stream/${encodeURIComponent(this.options.sessionId)}`;
    const path = `${this.options.backendUrl}${streamPath}`;
    return query ? `${path}?${query}` : path;
  }

  private setStatus(status: ConnectionStatus): void {
    this.status = status;
    this.options.onStatus?.(status);
  }
}

function describe(error: unknown): string {
  if (error instanceof TicketError) return error.message;
  return 'The relay cannot be reached.';
}
