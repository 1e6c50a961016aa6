/**
 * Types of the relay's HTTP and SSE contract (see shared DESIGN.md, "Outbound SSE").
 *
 * Every field the relay may omit is optional here, so older relays keep working.
 */

export type Speaker = 'agent' | 'customer';

/** VOICE, SMS, WHATSAPP, CHAT, ...: a call's stream also carries its conversation's messages. */
export type Channel = string;

export interface TranscriptEntry {
  id?: string;
  timestamp: string;
  speaker: Speaker;
  text: string;
  /** Absent from relays older than the channel tag. */
  channel?: Channel;
}

export type OutputFormat = 'TEXT' | 'JSON' | 'CLASSIFICATION' | 'EXTRACTION';

export interface OperatorRef {
  id?: string;
  friendlyName?: string;
  version?: number;
  parameters?: Record<string, unknown>;
}

export interface ExecutionDetails {
  trigger?: { on?: string; timestamp?: string };
  communications?: { first?: string | null; last?: string | null };
  channels?: string[];
  participants?: Array<{ id?: string; profileId?: string; type?: string }>;
}

export interface OperatorResult {
  id: string;
  timestamp: string;
  conversationId?: string;
  operator: OperatorRef;
  outputFormat?: OutputFormat;
  result: unknown;
  /** The whole operator result as Twilio sent it (Twilio's sample keeps it under this name). */
  rawPayload?: unknown;
  referenceIds?: string[];
  executionDetails?: ExecutionDetails;
}

export type CategoryStatus = 'met' | 'missed' | 'pending';

/** Decided by the relay against the step's deadline: met in time, met after it, not met past it, or neither. */
export type DueState = 'on_time' | 'late' | 'overdue' | 'open';

/** An agent's "I did this" on a step; shown next to the model's verdict, never instead of it. */
export interface Dispute {
  id: string;
  category: string;
  /** The agent's identity as the relay knows it (a keyed hash), or null when streams are open. */
  by: string | null;
  at: string;
  note: string | null;
  status: 'open' | 'resolved';
  resolvedAt?: string;
}

export interface AdherenceCategory {
  key: string;
  label: string;
  weight: number;
  status: CategoryStatus;
  /** Transcript entry ids the model judged for its verdict. Absent from older relays. */
  evidence?: string[] | null;
  /** When the last judged utterance was said, and its offset in seconds from the call's start. */
  metAt?: string | null;
  metAfterSeconds?: number | null;
  /** The step's deadline in seconds from the call's start, or null for none. */
  withinSeconds?: number | null;
  due?: DueState;
  dispute?: Dispute | null;
}

export interface Adherence {
  categories: AdherenceCategory[];
  /** Weighted score, 0-100, counting met categories (a late one at the script's lateCredit). */
  score: number;
  lateCredit?: number;
  explanation?: string | null;
  timestamp?: string;
  operatorResultId?: string;
}

export type SentimentLabel = 'positive' | 'negative' | 'neutral' | 'mixed';

export interface Sentiment {
  label: SentimentLabel;
  timestamp?: string;
  operatorResultId?: string;
}

export interface Summary {
  text: string;
  timestamp?: string;
  operatorResultId?: string;
  /** True for the post-call summary (computed when the conversation ended); a running one never replaces it. */
  final?: boolean;
}

/** The newest result of Twilio's Next Best Response operator: what the agent could say next. */
export interface Suggestion {
  id: string;
  text: string;
  timestamp?: string;
  operatorResultId?: string;
}

export interface CallStatus {
  /** ringing, in-progress, completed, ... (Twilio's CallStatus values). */
  status: string;
  timestamp?: string;
}

/** How an insight field is shown: a note, a badge with its tone, an entity chip, or a titled value. */
export type InsightStyle = 'text' | 'label' | 'entity' | 'value';
export type InsightTone = 'neutral' | 'positive' | 'warning' | 'critical';

export interface InsightField {
  key: string;
  label: string;
  value: string;
  style: InsightStyle;
  tone: InsightTone;
  description?: string | null;
}

/** Any non-Twilio operator's latest result, made display-ready by the relay (its operator catalog). */
export interface Insight {
  operatorId: string;
  operatorName: string;
  catalogKey?: string | null;
  version?: number | null;
  kind: string;
  fields: InsightField[];
  raw?: unknown;
  timestamp?: string;
  operatorResultId?: string;
}

/** A supervisor's note to the agent of the call. */
export interface Coaching {
  id: string;
  text: string;
  by?: string | null;
  timestamp?: string;
}

/** An alert rule the relay evaluates, fired or cleared; the panel shows the firing ones meant for agents. */
export interface Alert {
  rule: string;
  title: string;
  severity: 'info' | 'warning' | 'critical' | string;
  audience: string[];
  state: 'firing' | 'cleared' | string;
  episode?: number;
  why: string;
  evidence?: string[];
  /** When the episode fired (a clearing says it too); `timestamp` is when this event was logged. */
  firedAt?: string;
  timestamp?: string;
}

/** The snapshot: the call so far, sent when the stream opens. */
export interface InitialFrame {
  type: 'initial';
  transcript?: TranscriptEntry[];
  operatorResults?: OperatorResult[];
  adherence?: Adherence | null;
  sentiment?: Sentiment | null;
  summary?: Summary | null;
  callStatus?: CallStatus | null;
  suggestion?: Suggestion | null;
  /** Each category's latest dispute. */
  disputes?: Record<string, Dispute>;
  /** The latest insight per operator id. */
  insights?: Record<string, Insight>;
  /** Every coaching note of the call, by id. */
  coaching?: Record<string, Coaching>;
  /** The latest state of each alert rule, by rule name. */
  alerts?: Record<string, Alert>;
}

/**
 * Any frame as the stream client passes it on: the reducer picks the types it knows by `type` (the relay's
 * cintel_relay/events.py lists them) and ignores the others, for forward compatibility.
 */
export interface UnknownFrame {
  type: string;
  [field: string]: unknown;
}

export interface ScriptCategory {
  key: string;
  label: string;
  description?: string;
  /** Percentage of the score this category is worth. */
  weight: number;
  /** Seconds from the call's start by which the step is due. */
  withinSeconds?: number | null;
}

export interface Script {
  name: string;
  categories: ScriptCategory[];
}
