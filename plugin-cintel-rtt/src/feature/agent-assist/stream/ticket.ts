/** `POST /api/stream-ticket`: trade the agent's Flex token for a short-lived stream ticket. */
import type { FetchLike } from './StreamClient';

export class TicketError extends Error {
  readonly status: number;
  /** Server-requested wait before the next try (429), in ms. */
  readonly retryAfterMs?: number;

  constructor(message: string, status: number, retryAfterMs?: number) {
    super(message);
    this.name = 'TicketError';
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

export interface TicketRequest {
  fetch: FetchLike;
  backendUrl: string;
  sessionId: string;
  token: string | undefined;
  signal?: AbortSignal;
}

interface TicketResponse {
  ticket?: string | null;
  auth?: string;
}

function retryAfterMs(response: Response): number | undefined {
  const header = response.headers.get('Retry-After');
  if (!header) return undefined;
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

function refusal(status: number): string {
  switch (status) {
    case 401:
      return 'Your Flex session was refused or has expired (401): reload Flex to sign in again.';
    case 403:
      return 'You are not allowed to follow this call (403).';
    case 429:
      return 'The relay is rate limiting stream requests (429).';
    default:
      return `The relay answered ${status} to the stream ticket request.`;
  }
}

/**
 * Ask the relay for a stream ticket.
 *
 * Resolves to the ticket, or to null when the relay runs without stream auth (`auth: none`) or
 * predates tickets (404), in which case the stream is opened without one.
 */
export async function requestTicket(request: TicketRequest): Promise<string | null> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (request.token) headers.Authorization = `Bearer ${request.token}`;
  const response = await request.fetch(`${request.backendUrl}/api/stream-ticket`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ sessionId: request.sessionId }),
    signal: request.signal,
  });
  if (response.status === 404) return null;
  if (!response.ok) {
    throw new TicketError(refusal(response.status), response.status, retryAfterMs(response));
  }
  const body = (await response.json()) as TicketResponse;
  if (body.auth === 'none' || !body.ticket) return null;
  return body.ticket;
}
