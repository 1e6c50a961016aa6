/** Test doubles for the browser I/O the stream client and panel use (tests only). */
import type { EventSourceLike, FetchLike, Timers } from '../stream/StreamClient';

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 2;

/** An EventSource the test drives: open it, push frames, drop or refuse it. */
export class FakeEventSource implements EventSourceLike {
  readyState = CONNECTING;
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  closed = false;

  constructor(readonly url: string) {}

  get params(): URLSearchParams {
    return new URL(this.url).searchParams;
  }

  close(): void {
    this.closed = true;
    this.readyState = CLOSED;
  }

  open(): void {
    this.readyState = OPEN;
    this.onopen?.(new Event('open'));
  }

  /** Deliver one `data:` frame, with its SSE `id:` when given. */
  emit(frame: unknown, id?: string): void {
    const data = typeof frame === 'string' ? frame : JSON.stringify(frame);
    this.onmessage?.(new MessageEvent('message', { data, lastEventId: id ?? '' }));
  }

  /** The connection dropped; the browser would retry on its own. */
  drop(): void {
    this.readyState = CONNECTING;
    this.onerror?.(new Event('error'));
  }

  /** The relay answered with an error status (e.g. a refused ticket); the browser gives up. */
  refuse(): void {
    this.readyState = CLOSED;
    this.onerror?.(new Event('error'));
  }
}

export class EventSources {
  readonly all: FakeEventSource[] = [];

  readonly create = (url: string): FakeEventSource => {
    const source = new FakeEventSource(url);
    this.all.push(source);
    return source;
  };

  get latest(): FakeEventSource {
    const source = this.all[this.all.length - 1];
    if (!source) throw new Error('no EventSource was opened');
    return source;
  }

  get open(): FakeEventSource[] {
    return this.all.filter((source) => !source.closed);
  }
}

export interface FakeReply {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface RecordedRequest {
  url: string;
  init?: RequestInit;
}

/**
 * A fetch answering by path; a handler may return a reply, throw (network error) or return a
 * promise the test resolves later.
 */
export class FakeFetch {
  readonly requests: RecordedRequest[] = [];
  private readonly routes = new Map<string, (request: RecordedRequest) => FakeReply | Promise<FakeReply>>();

  route(path: string, handler: (request: RecordedRequest) => FakeReply | Promise<FakeReply>): this {
    this.routes.set(path, handler);
    return this;
  }

  readonly fetch: FetchLike = async (url, init) => {
    const request = { url, init };
    this.requests.push(request);
    const handler = this.routes.get(new URL(url).pathname);
    if (!handler) throw new TypeError(`Failed to fetch ${url}`);
    const signal = init?.signal;
    const reply = await Promise.race([
      Promise.resolve(handler(request)),
      new Promise<never>((_, reject) => {
        signal?.addEventListener('abort', () => reject(new DOMException('Aborted', 'AbortError')));
      }),
    ]);
    return toResponse(reply);
  };

  to(path: string): RecordedRequest[] {
    return this.requests.filter((request) => new URL(request.url).pathname === path);
  }
}

function toResponse(reply: FakeReply): Response {
  const status = reply.status ?? 200;
  const headers = new Map(
    Object.entries(reply.headers ?? {}).map(([key, value]) => [key.toLowerCase(), value]),
  );
  return {
    ok: status >= 200 && status < 300,
    status,
    headers: { get: (name: string) => headers.get(name.toLowerCase()) ?? null },
    json: async () => reply.body,
  } as unknown as Response;
}

/** Timers the test advances by hand; records every delay asked for. */
export class ManualTimers implements Timers {
  private clock = 0;
  private nextHandle = 1;
  private readonly pending = new Map<number, { at: number; callback: () => void }>();
  readonly delays: number[] = [];

  setTimeout(callback: () => void, ms: number): unknown {
    const handle = this.nextHandle++;
    this.delays.push(ms);
    this.pending.set(handle, { at: this.clock + ms, callback });
    return handle;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  now(): number {
    return this.clock;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Run the earliest pending timer, advancing the clock to it. */
  runNext(): void {
    const next = [...this.pending.entries()].sort((a, b) => a[1].at - b[1].at)[0];
    if (!next) throw new Error('no timer is pending');
    const [handle, timer] = next;
    this.pending.delete(handle);
    this.clock = timer.at;
    timer.callback();
  }
}

// Captured at import, so settle() still works in tests that switch to jest's fake timers.
const realSetTimeout = globalThis.setTimeout;

/** Let pending promise callbacks (ticket requests) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await Promise.resolve();
  await new Promise((resolve) => realSetTimeout(resolve, 0));
}
