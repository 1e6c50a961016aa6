import { sessionForTask } from './session';

describe('sessionForTask', () => {
  it('uses the Call SID of a voice task', () => {
    expect(
      sessionForTask({
        taskChannelUniqueName: 'voice',
        status: 'assigned',
        attributes: { call_sid: 'CA123' },
      }),
    ).toEqual({ kind: 'session', sessionId: 'CA123', channel: 'voice' });
  });

  it('falls back to the conversation SID of a digital task', () => {
    expect(
      sessionForTask({ taskChannelUniqueName: 'chat', attributes: { conversationSid: 'CH456' } }),
    ).toEqual({
      kind: 'session',
      sessionId: 'CH456',
      channel: 'digital',
    });
  });

  it('keeps showing a task in wrap-up', () => {
    expect(sessionForTask({ status: 'wrapping', attributes: { call_sid: 'CA123' } }).kind).toBe('session');
  });

  it('explains why there is nothing to show', () => {
    expect(sessionForTask(undefined)).toMatchObject({
      kind: 'unavailable',
      reason: expect.stringMatching(/Select a task/),
    });
    expect(sessionForTask({ status: 'completed', attributes: { call_sid: 'CA1' } })).toMatchObject({
      kind: 'unavailable',
      reason: 'This task has ended.',
    });
    expect(sessionForTask({ taskChannelUniqueName: 'email', attributes: {} })).toMatchObject({
      kind: 'unavailable',
      reason: expect.stringMatching(/not available/),
    });
  });
});
