/** What the panel says through its live region: news a screen reader user should hear without looking. */
import type { ChecklistItem } from '../script';
import type { ConnectionState } from '../stream/StreamClient';

/** The part of the panel's state that announcements are made from. */
export interface Announceable {
  /** False until the first snapshot: what the call already held when the panel opened is not news. */
  loaded: boolean;
  checklist: Array<Pick<ChecklistItem, 'key' | 'label' | 'status'>>;
  connection: ConnectionState;
  negative: boolean;
}

const LOST: ConnectionState[] = ['reconnecting', 'offline'];

/**
 * The announcements for a change from `before` to `after`: a step met or missed, the customer turning
 * negative, and the connection lost (once, not at every retry) and back.
 */
export function announcementsBetween(before: Announceable | null, after: Announceable): string[] {
  if (!before) return [];
  const out: string[] = [];
  if (before.loaded && after.loaded) {
    const was = new Map(before.checklist.map((item) => [item.key, item.status]));
    for (const item of after.checklist) {
      if (item.status !== 'pending' && item.status !== was.get(item.key)) {
        out.push(`Step ${item.label} ${item.status}`);
      }
    }
    if (after.negative && !before.negative) out.push("Alert: the customer's sentiment turned negative");
  }
  if (before.connection === 'live' && LOST.includes(after.connection)) {
    out.push('Connection lost: retrying, what is shown may be out of date');
  } else if (LOST.includes(before.connection) && after.connection === 'live') {
    out.push('Connection back: updates are live again');
  }
  return out;
}
