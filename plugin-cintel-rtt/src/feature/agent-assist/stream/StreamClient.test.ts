import { EventSources, FakeFetch, ManualTimers, settle } from '../testing/fakes';
import type { UnknownFrame } from '../types';
import { ConnectionStatus, StreamClient, StreamClientOptions } from './StreamClient';

const BACKEND = 'https://relay.test';
const SESSION = 'CA0123456789abcdef0123456789abcdef';
const STREAM_PATH = `/api/stream/${SESSION}`;

interface Harness {
  client: StreamClient;
  sources: EventSources;
  http: FakeFetch;
  timers: ManualTimers;
  frames: Array<{ frame: UnknownFrame; id?: string }>;
  statuses: ConnectionStatus[];
}

let ticketCount = 0;

function issueTickets(): FakeFetch {
  return new FakeFetch().route('/api/stream-ticket', () => {
    ticketCount += 1;
    return { body: { ticket: `ticket-${ticketCount}`, expiresAt: '2026-11-25T15:00:00Z', auth: 'flex' } };
  });
}

function makeClient(http: FakeFetch = issueTickets(), overrides: Partial<StreamClientOptions> = {}): Harness {
  const sources = new EventSources();
  const timers = new ManualTimers();
  const frames: Harness['frames'] = [];
  const statuses: ConnectionStatus[] = [];
  const client = new StreamClient({
    backendUrl: BACKEND,
    sessionId: SESSION,
    getToken: () => 'flex-token',
    onFrame: (frame, id) => frames.push({ frame, id }),
    onStatus: (status) => statuses.push(status),
    fetch: http.fetch,
    createEventSource: sources.create,
    timers,
    random: () => 0,
    ...overrides,
  });
  return { client, sources, http, timers, frames, statuses };
}

async function startLive(harness: Harness): Promise<void> {
  harness.client.start();
  await settle();
  harness.sources.latest.open();
}

beforeEach(() => {
  ticketCount = 0;
});

describe('StreamClient', () => {
  it('trades the Flex token for a ticket and opens the stream with it', async () => {
    const harness = makeClient();
    await startLive(harness);

    const [request] = harness.http.to('/api/stream-ticket');
    expect(request.init?.method).toBe('POST');
    expect((request.init?.headers as Record<string, string>).Authorization).toBe('Bearer flex-token');
    expect(JSON.parse(String(request.init?.body))).toEqual({ sessionId: SESSION });

    const source = harness.sources.latest;
    expect(new URL(source.url).pathname).toBe(STREAM_PATH);
    expect(source.params.get('ticket')).toBe('ticket-1');
    expect(source.params.has('lastEventId')).toBe(false);
    expect(harness.client.connectionStatus).toEqual({ state: 'live' });
    expect(harness.statuses.map((status) => status.state)).toEqual(['connecting', 'live']);
  });

  it('opens the stream without a ticket when the relay runs without stream auth', async () => {
    const http = new FakeFetch().route('/api/stream-ticket', () => ({
      body: { ticket: null, auth: 'none' },
    }));
    const harness = makeClient(http);
    await startLive(harness);

    expect(harness.sources.latest.url).toBe(`${BACKEND}${STREAM_PATH}`);
  });

  it('opens the stream without a ticket when the relay predates tickets (404)', async () => {
    const http = new FakeFetch().route('/api/stream-ticket', () => ({
      status: 404,
      body: { error: 'not found' },
    }));
    const harness = makeClient(http);
    await startLive(harness);

    expect(harness.sources.latest.params.has('ticket')).toBe(false);
    expect(harness.client.connectionStatus.state).toBe('live');
  });

  it('passes every JSON frame on with its event id and skips malformed ones', async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const harness = makeClient();
    await startLive(harness);
    const source = harness.sources.latest;

    source.emit({ type: 'connected', sessionId: SESSION });
    source.emit('not json', '1732460529000-0');
    source.emit({ no: 'type' });
    source.emit(
      { type: 'transcript', data: { id: 't1', speaker: 'agent', text: 'Hi', timestamp: 'x' } },
      '1732460529123-0',
    );
    source.emit({ type: 'from-the-future', data: {} }, '1732460529124-0');

    expect(harness.frames).toEqual([
      { frame: { type: 'connected', sessionId: SESSION }, id: undefined },
      {
        frame: { type: 'transcript', data: { id: 't1', speaker: 'agent', text: 'Hi', timestamp: 'x' } },
        id: '1732460529123-0',
      },
      { frame: { type: 'from-the-future', data: {} }, id: '1732460529124-0' },
    ]);
    expect(source.closed).toBe(false);
    expect(warn).toHaveBeenCalledTimes(1);
    warn.mockRestore();
  });

  it('reconnects after a drop with capped exponential backoff and resumes from the last id', async () => {
    const harness = makeClient(issueTickets(), {
      backoff: { initialMs: 1000, maxMs: 8000, factor: 2, jitter: 0.5 },
    });
    await startLive(harness);
    harness.sources.latest.emit({ type: 'transcript', data: { id: 't1' } }, '1732460529123-0');

    const delays: number[] = [];
    for (let attempt = 0; attempt < 5; attempt += 1) {
      harness.sources.latest.drop();
      expect(harness.sources.open).toHaveLength(0);
      delays.push(harness.timers.delays[harness.timers.delays.length - 1]);
      harness.timers.runNext();
      await settle();
    }

    expect(delays).toEqual([1000, 2000, 4000, 8000, 8000]);
    const reopened = harness.sources.latest;
    expect(reopened.params.get('lastEventId')).toBe('1732460529123-0');
    expect(harness.sources.all).toHaveLength(6);

    reopened.open();
    expect(harness.client.connectionStatus.state).toBe('live');
    // A successful open resets the backoff.
    reopened.drop();
    expect(harness.timers.delays[harness.timers.delays.length - 1]).toBe(1000);
  });

  it('spreads retries with jitter that never exceeds the capped delay', async () => {
    const harness = makeClient(issueTickets(), { random: () => 1 });
    await startLive(harness);
    harness.sources.latest.drop();

    expect(harness.timers.delays).toEqual([500]);
  });

  it('asks for a new ticket when the relay refuses the stream', async () => {
    const harness = makeClient();
    await startLive(harness);
    expect(harness.sources.latest.params.get('ticket')).toBe('ticket-1');

    harness.sources.latest.refuse();
    expect(harness.client.connectionStatus.state).toBe('reconnecting');
    expect(harness.client.connectionStatus.error).toMatch(/refused/);
    harness.timers.runNext();
    await settle();

    expect(harness.http.to('/api/stream-ticket')).toHaveLength(2);
    expect(harness.sources.latest.params.get('ticket')).toBe('ticket-2');
    expect(harness.sources.all[0].closed).toBe(true);
  });

  it('reopens with a fresh ticket, never the old one, when the relay ends the stream as its ticket expires', async () => {
    const harness = makeClient();
    await startLive(harness);
    harness.sources.latest.emit({ type: 'transcript', data: { id: 't1' } }, '1732460529123-0');

    // The relay closes the stream at the ticket's expiry; the browser would retry the same URL.
    harness.sources.latest.drop();
    harness.timers.runNext();
    await settle();

    expect(harness.http.to('/api/stream-ticket')).toHaveLength(2);
    expect(harness.sources.all.map((source) => source.params.get('ticket'))).toEqual([
      'ticket-1',
      'ticket-2',
    ]);
    expect(harness.sources.latest.params.get('lastEventId')).toBe('1732460529123-0');
    expect(harness.sources.all[0].closed).toBe(true);
  });

  it('reads the token afresh for every ticket, since Flex refreshes it', async () => {
    let token = 'token-a';
    const harness = makeClient(issueTickets(), { getToken: () => token });
    await startLive(harness);
    token = 'token-b';
    harness.sources.latest.refuse();
    harness.timers.runNext();
    await settle();

    const auth = harness.http
      .to('/api/stream-ticket')
      .map((request) => (request.init?.headers as Record<string, string>).Authorization);
    expect(auth).toEqual(['Bearer token-a', 'Bearer token-b']);
  });

  it('goes offline after repeated failures, keeps retrying, and recovers', async () => {
    let relayUp = false;
    const http = new FakeFetch().route('/api/stream-ticket', () => {
      if (!relayUp) throw new TypeError('Failed to fetch');
      return { body: { ticket: 'ticket-ok', auth: 'flex' } };
    });
    const harness = makeClient(http, { offlineAfter: 3 });
    harness.client.start();
    await settle();

    const states: string[] = [harness.client.connectionStatus.state];
    for (let attempt = 0; attempt < 3; attempt += 1) {
      harness.timers.runNext();
      await settle();
      states.push(harness.client.connectionStatus.state);
    }
    expect(states).toEqual(['reconnecting', 'reconnecting', 'offline', 'offline']);
    expect(harness.client.connectionStatus.error).toBe('The relay cannot be reached.');
    expect(harness.client.connectionStatus.nextRetryAt).toBeGreaterThan(harness.timers.now());
    expect(harness.sources.all).toHaveLength(0);

    relayUp = true;
    harness.timers.runNext();
    await settle();
    harness.sources.latest.open();
    expect(harness.client.connectionStatus).toEqual({ state: 'live' });
  });

  it('reports a refused ticket and waits at least as long as Retry-After says', async () => {
    const http = new FakeFetch().route('/api/stream-ticket', () => ({
      status: 429,
      body: { error: 'rate limited' },
      headers: { 'Retry-After': '7' },
    }));
    const harness = makeClient(http);
    harness.client.start();
    await settle();

    expect(harness.client.connectionStatus.error).toMatch(/429/);
    expect(harness.timers.delays).toEqual([7000]);
  });

  it('explains a 403 from the ticket endpoint', async () => {
    const http = new FakeFetch().route('/api/stream-ticket', () => ({
      status: 403,
      body: { error: 'forbidden' },
    }));
    const harness = makeClient(http);
    harness.client.start();
    await settle();

    expect(harness.client.connectionStatus.error).toMatch(/not allowed to follow this call/);
    expect(harness.sources.all).toHaveLength(0);
  });

  describe('stop()', () => {
    it('closes the open stream and ignores anything it still emits', async () => {
      const harness = makeClient();
      await startLive(harness);
      const source = harness.sources.latest;
      const handlers = { onmessage: source.onmessage, onerror: source.onerror };

      harness.client.stop();

      expect(source.closed).toBe(true);
      expect(source.onmessage).toBeNull();
      handlers.onmessage?.(new MessageEvent('message', { data: '{"type":"connected"}' }));
      handlers.onerror?.(new Event('error'));
      expect(harness.frames).toHaveLength(0);
      expect(harness.timers.pendingCount).toBe(0);
      expect(harness.client.connectionStatus.state).toBe('stopped');
    });

    it('cancels a pending reconnect', async () => {
      const harness = makeClient();
      await startLive(harness);
      harness.sources.latest.drop();
      expect(harness.timers.pendingCount).toBe(1);

      harness.client.stop();

      expect(harness.timers.pendingCount).toBe(0);
      await settle();
      expect(harness.sources.all).toHaveLength(1);
    });

    it('aborts a ticket request in flight and never opens the stream', async () => {
      const http = new FakeFetch().route('/api/stream-ticket', () => new Promise(() => undefined));
      const harness = makeClient(http);
      harness.client.start();
      await settle();
      const signal = http.requests[0].init?.signal;

      harness.client.stop();
      await settle();

      expect(signal?.aborted).toBe(true);
      expect(harness.sources.all).toHaveLength(0);
      expect(harness.timers.pendingCount).toBe(0);
      expect(harness.statuses[harness.statuses.length - 1].state).toBe('stopped');
    });
  });
});
