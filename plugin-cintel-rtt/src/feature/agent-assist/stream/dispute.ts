/** `POST /api/calls/<CallSid>/disputes`: the agent says "I did this" on a script step. */
import type { FetchLike } from './StreamClient';
import { requestTicket } from './ticket';

export interface DisputeRequest {
  fetch: FetchLike;
  backendUrl: string;
  sessionId: string;
  token: string | undefined;
  category: string;
  note?: string;
}

/**
 * Open a dispute, authorized as the call's stream (a fresh ticket). Resolves once the relay stored it;
 * the stream then brings it to the checklist. Rejects with the relay's own words when it refuses.
 */
export async function openDispute(request: DisputeRequest): Promise<void> {
  const ticket = await requestTicket(request);
  const query = ticket ? `?ticket=${encodeURIComponent(ticket)}` : '';
  const note = request.note?.trim();
  const response = await request.fetch(
    `${request.backendUrl}/api/calls/${encodeURIComponent(request.sessionId)}/disputes${query}`,
    {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(note ? { category: request.category, note } : { category: request.category }),
    },
  );
  if (response.ok) return;
  let message = `The relay answered ${response.status} to the dispute.`;
  try {
    const body = (await response.json()) as { error?: string };
    if (body.error) message = body.error;
  } catch {
    // not JSON: the status says enough
  }
  throw new Error(message);
}
