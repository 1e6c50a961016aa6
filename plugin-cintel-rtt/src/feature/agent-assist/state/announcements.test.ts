import { Announceable, announcementsBetween } from './announcements';

const steps = (greeting: 'met' | 'missed' | 'pending', verification: 'met' | 'missed' | 'pending') => [
  { key: 'greeting', label: 'Greeting', status: greeting },
  { key: 'verification', label: 'Verification', status: verification },
];

const base: Announceable = {
  loaded: true,
  checklist: steps('pending', 'pending'),
  connection: 'live',
  negative: false,
};

describe('announcements', () => {
  it('says a step newly met or missed, and only that step', () => {
    const after = { ...base, checklist: steps('met', 'missed') };
    expect(announcementsBetween(base, after)).toEqual(['Step Greeting met', 'Step Verification missed']);
    expect(announcementsBetween(after, { ...after })).toEqual([]);
  });

  it('does not announce what the call already held when the panel opened', () => {
    const before = { ...base, loaded: false };
    expect(announcementsBetween(before, { ...base, checklist: steps('met', 'met') })).toEqual([]);
    expect(announcementsBetween(null, { ...base, checklist: steps('met', 'met') })).toEqual([]);
  });

  it('raises an alert when the customer turns negative', () => {
    expect(announcementsBetween(base, { ...base, negative: true })).toEqual([
      "Alert: the customer's sentiment turned negative",
    ]);
  });

  it('says the connection was lost once, not at every retry, and that it is back', () => {
    const reconnecting = { ...base, connection: 'reconnecting' as const };
    const offline = { ...base, connection: 'offline' as const };
    expect(announcementsBetween(base, reconnecting)).toEqual([
      'Connection lost: retrying, what is shown may be out of date',
    ]);
    expect(announcementsBetween(reconnecting, offline)).toEqual([]);
    expect(announcementsBetween(offline, base)).toEqual(['Connection back: updates are live again']);
    expect(announcementsBetween({ ...base, connection: 'connecting' }, base)).toEqual([]);
  });
});
