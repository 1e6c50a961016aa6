/** Which relay session (Call SID, else conversation SID) a Flex task maps to. Pure, no Flex types. */

/** The few task fields this feature reads; a Flex ITask satisfies it. */
export interface TaskLike {
  sid?: string;
  taskChannelUniqueName?: string;
  status?: string;
  attributes?: Record<string, unknown> | null;
}

export type SessionTarget =
  | { kind: 'session'; sessionId: string; channel: 'voice' | 'digital' }
  | { kind: 'unavailable'; reason: string };

const ENDED_STATUSES = new Set(['completed', 'canceled', 'cancelled']);

function stringAttribute(attributes: Record<string, unknown>, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = attributes[name];
    if (typeof value === 'string' && value.trim()) return value.trim();
  }
  return undefined;
}

/** Map a task to its relay session, or say why there is none. */
export function sessionForTask(task: TaskLike | null | undefined): SessionTarget {
  if (!task) {
    return { kind: 'unavailable', reason: 'Select a task to see its live transcript and checklist.' };
  }
  if (task.status && ENDED_STATUSES.has(task.status)) {
    return { kind: 'unavailable', reason: 'This task has ended.' };
  }
  const attributes = task.attributes ?? {};
  const callSid = stringAttribute(attributes, 'call_sid', 'callSid');
  if (callSid) return { kind: 'session', sessionId: callSid, channel: 'voice' };
  const conversationSid = stringAttribute(attributes, 'conversationSid', 'conversation_sid');
  if (conversationSid) return { kind: 'session', sessionId: conversationSid, channel: 'digital' };
  return {
    kind: 'unavailable',
    reason: 'Live assist is not available for this task: it has neither a call nor a conversation.',
  };
}
