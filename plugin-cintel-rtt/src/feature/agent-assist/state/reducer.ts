/** Pure reducer from stream frames (and two local actions) to the panel's state. */
import type {
  Adherence,
  Alert,
  CallStatus,
  Dispute,
  Coaching,
  Insight,
  InitialFrame,
  OperatorResult,
  Sentiment,
  Suggestion,
  Summary,
  TranscriptEntry,
  UnknownFrame,
} from '../types';

export interface PanelState {
  transcript: TranscriptEntry[];
  /** Newest first, the order the operator log shows. */
  operatorResults: OperatorResult[];
  adherence: Adherence | null;
  sentiment: Sentiment | null;
  summary: Summary | null;
  callStatus: CallStatus | null;
  /** The newest suggested response (Next Best Response), if the relay sent one. */
  suggestion: Suggestion | null;
  /** Each category's latest dispute, by category key. */
  disputes: Record<string, Dispute>;
  /** The latest insight per operator id, in the order operators first reported. */
  insights: Record<string, Insight>;
  /** Coaching notes, oldest first, and the ids the agent dismissed. */
  coaching: Coaching[];
  dismissedCoaching: string[];
  /** The latest state of each alert rule, by rule name. */
  alerts: Record<string, Alert>;
  /** Operator results received since the agent last looked at the operator log. */
  unreadOperatorResults: number;
  /** True once a snapshot or any event has arrived, to tell "empty call" from "not loaded yet". */
  loaded: boolean;
}

export type LocalAction =
  | { type: 'local/operator-log-viewed' }
  | { type: 'local/reset' }
  | { type: 'local/coaching-dismissed'; id: string };

export type PanelAction = UnknownFrame | LocalAction;

export const initialPanelState: PanelState = {
  transcript: [],
  operatorResults: [],
  adherence: null,
  sentiment: null,
  summary: null,
  callStatus: null,
  suggestion: null,
  disputes: {},
  insights: {},
  coaching: [],
  dismissedCoaching: [],
  alerts: {},
  unreadOperatorResults: 0,
  loaded: false,
};

/** The `data` object of a frame, or null when the relay sent none (the frame is then ignored). */
function payload<T>(action: PanelAction): T | null {
  const data = (action as { data?: unknown }).data;
  return typeof data === 'object' && data !== null ? (data as T) : null;
}

function hasTranscriptEntry(transcript: TranscriptEntry[], id: string | undefined): boolean {
  return id !== undefined && transcript.some((entry) => entry.id === id);
}

function dedupeById<T extends { id?: string }>(items: T[]): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    if (item.id === undefined) return true;
    if (seen.has(item.id)) return false;
    seen.add(item.id);
    return true;
  });
}

/** The frames that replace one value of the panel's state with their data: the frame type -> the state's field. */
const LATEST = {
  adherence: 'adherence',
  sentiment: 'sentiment',
  'call-status': 'callStatus',
  suggestion: 'suggestion',
} as const;

/** The state with `field` replaced by the frame's data, or unchanged when the frame carries none. */
function replaceLatest(
  state: PanelState,
  field: (typeof LATEST)[keyof typeof LATEST],
  action: PanelAction,
): PanelState {
  const value = payload<PanelState[typeof field]>(action);
  return value ? { ...state, loaded: true, [field]: value } : state;
}

function applySnapshot(state: PanelState, frame: InitialFrame): PanelState {
  const operatorResults = dedupeById(frame.operatorResults ?? []).reverse();
  const known = new Set(state.operatorResults.map((result) => result.id));
  const unseen = operatorResults.filter((result) => !known.has(result.id)).length;
  return {
    transcript: dedupeById(frame.transcript ?? []),
    operatorResults,
    adherence: frame.adherence ?? null,
    sentiment: frame.sentiment ?? null,
    summary: frame.summary ?? null,
    callStatus: frame.callStatus ?? null,
    suggestion: frame.suggestion ?? null,
    disputes: frame.disputes ?? {},
    insights: frame.insights ?? {},
    coaching: Object.values(frame.coaching ?? {}).sort((a, b) =>
      String(a.timestamp).localeCompare(String(b.timestamp)),
    ),
    dismissedCoaching: state.dismissedCoaching,
    alerts: frame.alerts ?? {},
    unreadOperatorResults: Math.min(operatorResults.length, state.unreadOperatorResults + unseen),
    loaded: true,
  };
}

/** Apply one frame or local action; unknown frame types leave the state as it is. */
export function panelReducer(state: PanelState, action: PanelAction): PanelState {
  switch (action.type) {
    case 'initial':
      return applySnapshot(state, action as unknown as InitialFrame);
    case 'transcript': {
      const entry = payload<TranscriptEntry>(action);
      if (!entry || hasTranscriptEntry(state.transcript, entry.id)) return state;
      return { ...state, loaded: true, transcript: [...state.transcript, entry] };
    }
    case 'operator-result': {
      const result = payload<OperatorResult>(action);
      if (!result || state.operatorResults.some((known) => known.id === result.id)) return state;
      return {
        ...state,
        loaded: true,
        operatorResults: [result, ...state.operatorResults],
        unreadOperatorResults: state.unreadOperatorResults + 1,
      };
    }
    case 'adherence':
    case 'sentiment':
    case 'call-status':
    case 'suggestion':
      return replaceLatest(state, LATEST[action.type], action);
    case 'summary': {
      const summary = payload<Summary>(action);
      if (!summary) return state;
      // The relay's snapshot keeps the post-call summary over a late running one; so does the panel.
      if (state.summary?.final && !summary.final) return { ...state, loaded: true };
      return { ...state, loaded: true, summary };
    }
    case 'dispute': {
      // The relay follows a dispute with the adherence state that carries it; this keeps the panel right
      // meanwhile (and with a relay that sends only the dispute).
      const dispute = payload<Dispute>(action);
      if (!dispute) return state;
      const adherence = state.adherence && {
        ...state.adherence,
        categories: state.adherence.categories.map((category) =>
          category.key === dispute.category ? { ...category, dispute } : category,
        ),
      };
      return {
        ...state,
        loaded: true,
        adherence,
        disputes: { ...state.disputes, [dispute.category]: dispute },
      };
    }
    case 'insight': {
      const insight = payload<Insight>(action);
      if (!insight || typeof insight.operatorId !== 'string') return state;
      return { ...state, loaded: true, insights: { ...state.insights, [insight.operatorId]: insight } };
    }
    case 'coaching': {
      const note = payload<Coaching>(action);
      if (!note || state.coaching.some((known) => known.id === note.id)) return state;
      return { ...state, loaded: true, coaching: [...state.coaching, note] };
    }
    case 'alert': {
      const alert = payload<Alert>(action);
      if (!alert || typeof alert.rule !== 'string') return state;
      return { ...state, loaded: true, alerts: { ...state.alerts, [alert.rule]: alert } };
    }
    case 'local/coaching-dismissed': {
      const { id } = action as { id: string };
      return { ...state, dismissedCoaching: [...state.dismissedCoaching, id] };
    }
    case 'local/operator-log-viewed':
      return state.unreadOperatorResults === 0 ? state : { ...state, unreadOperatorResults: 0 };
    case 'local/reset':
      return initialPanelState;
    default:
      return state;
  }
}
