/** Small display helpers shared by the tabs. */

/** Wall-clock time of an ISO timestamp in the agent's locale, or the raw text if unparseable. */
export function formatTime(timestamp: string | undefined): string {
  if (!timestamp) return '';
  const date = new Date(timestamp);
  if (Number.isNaN(date.getTime())) return timestamp;
  return date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** Pretty-printed JSON of any operator result, strings shown as they are. */
export function formatResult(result: unknown): string {
  if (typeof result === 'string') return result;
  try {
    return JSON.stringify(result, null, 2) ?? String(result);
  } catch {
    return String(result);
  }
}

const CHANNEL_LABELS: Record<string, string> = {
  VOICE: 'Voice',
  SMS: 'SMS',
  WHATSAPP: 'WhatsApp',
  RCS: 'RCS',
  CHAT: 'Chat',
  EMAIL: 'Email',
};

/** How a transcript entry's channel (VOICE, SMS, WHATSAPP, ...) is named to the agent. */
export function channelLabel(channel: string): string {
  const key = channel.toUpperCase();
  return CHANNEL_LABELS[key] ?? key.charAt(0) + key.slice(1).toLowerCase();
}

/** True for the call's own speech, the entries a call's transcript mostly holds. */
export function isVoice(channel: string): boolean {
  return channel.toUpperCase() === 'VOICE';
}

/** Seconds from the call's start as the agent reads a call's clock: 42 -> "0:42", 3725 -> "1:02:05". */
export function formatOffset(seconds: number): string {
  const total = Math.max(0, Math.floor(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** When a step was done against its deadline: "0:42 of 0:50", "0:42", "due by 0:50", or "". */
export function formatTiming(item: {
  status: string;
  metAfterSeconds?: number | null;
  withinSeconds?: number | null;
}): string {
  const within = typeof item.withinSeconds === 'number' ? formatOffset(item.withinSeconds) : null;
  if (item.status === 'met' && typeof item.metAfterSeconds === 'number') {
    return formatOffset(item.metAfterSeconds) + (within ? ` of ${within}` : '');
  }
  return within ? `due by ${within}` : '';
}
