import type { OperatorResult, TranscriptEntry } from '../types';
import { initialPanelState, PanelAction, panelReducer, PanelState } from './reducer';

function line(id: string, speaker: 'agent' | 'customer' = 'agent'): TranscriptEntry {
  return { id, speaker, text: `text ${id}`, timestamp: '2026-11-25T14:00:00Z' };
}

function result(id: string): OperatorResult {
  return { id, timestamp: '2026-11-25T14:00:00Z', operator: { friendlyName: `op ${id}` }, result: { id } };
}

function reduce(actions: PanelAction[], state: PanelState = initialPanelState): PanelState {
  return actions.reduce(panelReducer, state);
}

describe('panelReducer', () => {
  it('appends transcript lines in order and ignores a repeated id', () => {
    const state = reduce([
      { type: 'transcript', data: line('t1') },
      { type: 'transcript', data: line('t2', 'customer') },
      { type: 'transcript', data: line('t1') },
    ]);
    expect(state.transcript.map((entry) => entry.id)).toEqual(['t1', 't2']);
    expect(state.loaded).toBe(true);
  });

  it('keeps operator results newest first, counts unread ones, and ignores duplicates', () => {
    const state = reduce([
      { type: 'operator-result', data: result('r1') },
      { type: 'operator-result', data: result('r2') },
      { type: 'operator-result', data: result('r1') },
    ]);
    expect(state.operatorResults.map((entry) => entry.id)).toEqual(['r2', 'r1']);
    expect(state.unreadOperatorResults).toBe(2);
    expect(reduce([{ type: 'local/operator-log-viewed' }], state).unreadOperatorResults).toBe(0);
  });

  it('keeps the newest suggested response, from a frame or from the snapshot', () => {
    const first = { id: 's1', text: 'Offer insurance.', timestamp: '2026-11-25T14:00:00Z' };
    const second = { id: 's2', text: 'Confirm the date.', timestamp: '2026-11-25T14:01:00Z' };
    const state = reduce([
      { type: 'suggestion', data: first },
      { type: 'suggestion', data: second },
    ]);
    expect(state.suggestion).toEqual(second);
    expect(
      reduce([{ type: 'initial', transcript: [], operatorResults: [], suggestion: first }], state).suggestion,
    ).toEqual(first);
    expect(reduce([{ type: 'initial', transcript: [], operatorResults: [] }], state).suggestion).toBeNull();
  });

  it('keeps the latest adherence, sentiment, summary and call status', () => {
    const adherence = {
      categories: [{ key: 'greeting', label: 'Greeting', weight: 10, status: 'met' as const }],
      score: 10,
      explanation: 'Greeted the customer.',
    };
    const state = reduce([
      { type: 'sentiment', data: { label: 'neutral' } },
      { type: 'sentiment', data: { label: 'positive' } },
      { type: 'summary', data: { text: 'First.' } },
      { type: 'summary', data: { text: 'Second.' } },
      { type: 'adherence', data: adherence },
      { type: 'call-status', data: { status: 'in-progress' } },
    ]);
    expect(state.sentiment?.label).toBe('positive');
    expect(state.summary?.text).toBe('Second.');
    expect(state.adherence).toEqual(adherence);
    expect(state.callStatus?.status).toBe('in-progress');
  });

  it('keeps the post-call summary when a running one arrives after it', () => {
    const state = reduce([
      { type: 'summary', data: { text: 'Running.' } },
      { type: 'summary', data: { text: 'Post-call.', final: true } },
      { type: 'summary', data: { text: 'A late running one.' } },
    ]);
    expect(state.summary).toEqual({ text: 'Post-call.', final: true });
  });

  it('replaces the whole state with an initial snapshot', () => {
    const before = reduce([
      { type: 'transcript', data: line('old') },
      { type: 'summary', data: { text: 'Old summary.' } },
      { type: 'operator-result', data: result('r1') },
    ]);
    const after = panelReducer(before, {
      type: 'initial',
      transcript: [line('t1'), line('t2')],
      operatorResults: [result('r1'), result('r2'), result('r3')],
      adherence: null,
      sentiment: { label: 'mixed' },
      summary: null,
      callStatus: { status: 'in-progress' },
    });
    expect(after.transcript.map((entry) => entry.id)).toEqual(['t1', 't2']);
    expect(after.summary).toBeNull();
    expect(after.sentiment?.label).toBe('mixed');
    expect(after.operatorResults.map((entry) => entry.id)).toEqual(['r3', 'r2', 'r1']);
    // r1 was already counted; r2 and r3 are new.
    expect(after.unreadOperatorResults).toBe(3);
  });

  it('accepts a snapshot from an older relay that sends only transcript and operator results', () => {
    const state = panelReducer(initialPanelState, { type: 'initial', transcript: [], operatorResults: [] });
    expect(state).toEqual({ ...initialPanelState, loaded: true });
  });

  it('ignores unknown frame types, connected frames and frames without data', () => {
    const start = reduce([{ type: 'transcript', data: line('t1') }]);
    expect(panelReducer(start, { type: 'from-the-future', data: { anything: true } })).toBe(start);
    expect(panelReducer(start, { type: 'connected', sessionId: 'CA1' })).toBe(start);
    expect(panelReducer(start, { type: 'summary' })).toBe(start);
    expect(panelReducer(start, { type: 'transcript', data: null })).toBe(start);
  });

  it('resets to the empty state', () => {
    const state = reduce([{ type: 'transcript', data: line('t1') }, { type: 'local/reset' }]);
    expect(state).toBe(initialPanelState);
  });

  it('keeps a dispute by category and attaches it to its step, leaving the verdict as it is', () => {
    const adherence = {
      categories: [{ key: 'greeting', label: 'Greeting', weight: 10, status: 'missed' as const }],
      score: 0,
    };
    const dispute = {
      id: 'd1',
      category: 'greeting',
      by: null,
      at: '2026-11-25T14:00:00Z',
      note: null,
      status: 'open' as const,
    };
    const state = reduce([
      { type: 'adherence', data: adherence },
      { type: 'dispute', data: dispute },
    ]);
    expect(state.disputes).toEqual({ greeting: dispute });
    expect(state.adherence?.categories[0]).toEqual({ ...adherence.categories[0], dispute });
  });
});
