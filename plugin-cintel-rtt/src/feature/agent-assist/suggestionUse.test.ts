import { applySuggestion, suggestionOperator, viaFor } from './suggestionUse';
import type { OperatorResult } from './types';

const NBR = 'intelligence_operator_01kea27sy7ffsafmtsfp17nzx4';
const results: OperatorResult[] = [
  { id: 'r1', timestamp: 't', operator: { id: NBR, version: 3 }, result: { text: 'Offer storage.' } },
];
const suggestion = { id: 'r1', text: 'Offer storage.', operatorResultId: 'r1' };

function relay() {
  const calls: Array<{ url: string; body?: string }> = [];
  const fetch = async (url: string, init?: RequestInit): Promise<Response> => {
    calls.push({ url, body: init?.body as string | undefined });
    const ticket = url.endsWith('/api/stream-ticket');
    const body = ticket ? { ticket: 'tkt', auth: 'flex' } : {};
    const status = ticket ? 200 : 204;
    return { status, ok: true, headers: { get: () => null }, json: async () => body } as unknown as Response;
  };
  return { calls, fetch };
}

describe('the suggested response "use" action', () => {
  it("puts the text in a chat or SMS task's message box and reports the use per operator version", async () => {
    const { calls, fetch } = relay();
    const setInputText = jest.fn(async () => undefined);
    const copy = jest.fn(async () => undefined);
    const task = { taskChannelUniqueName: 'chat', attributes: { conversationSid: 'CH1' } };
    const via = await applySuggestion(
      suggestion,
      task,
      results,
      { setInputText, copy },
      {
        fetch,
        backendUrl: 'https://relay',
        sessionId: 'CH1',
        token: 'flex-token',
      },
    );
    expect(via).toBe('input');
    expect(setInputText).toHaveBeenCalledWith(task, 'Offer storage.');
    expect(copy).not.toHaveBeenCalled();
    expect(calls[1].url).toBe('https://relay/api/calls/CH1/suggestion-uses?ticket=tkt');
    expect(JSON.parse(calls[1].body ?? '')).toEqual({ operatorId: NBR, version: 3, via: 'input' });
  });

  it('copies it on a voice task', async () => {
    const { fetch } = relay();
    const copy = jest.fn(async () => undefined);
    const via = await applySuggestion(
      suggestion,
      { taskChannelUniqueName: 'voice' },
      results,
      { setInputText: jest.fn(), copy },
      { fetch, backendUrl: 'https://relay', sessionId: 'CA1', token: undefined },
    );
    expect(via).toBe('copy');
    expect(copy).toHaveBeenCalledWith('Offer storage.');
  });

  it('names the operator version from the result the suggestion came from', () => {
    expect(suggestionOperator(suggestion, results)).toEqual({ operatorId: NBR, version: 3 });
    expect(suggestionOperator({ ...suggestion, operatorResultId: 'gone' }, results)).toBeNull();
    expect(viaFor(null)).toBe('copy');
    expect(viaFor({ taskChannelUniqueName: 'sms' })).toBe('input');
  });
});
