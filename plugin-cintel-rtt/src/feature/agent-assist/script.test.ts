import { FakeFetch } from './testing/fakes';
import { buildChecklist, fetchScript } from './script';
import type { Script } from './types';

const SCRIPT: Script = {
  name: 'Moving company',
  categories: [
    { key: 'greeting', label: 'Greeting', description: 'Say hello', weight: 10 },
    { key: 'verification', label: 'Verification', weight: 20 },
  ],
};

describe('fetchScript', () => {
  it('loads and validates the relay script', async () => {
    const http = new FakeFetch().route('/api/script', () => ({ body: SCRIPT }));
    await expect(fetchScript(http.fetch, 'https://relay.test')).resolves.toEqual(SCRIPT);
  });

  it('rejects an error status or a body without categories', async () => {
    const down = new FakeFetch().route('/api/script', () => ({ status: 503, body: { error: 'down' } }));
    await expect(fetchScript(down.fetch, 'https://relay.test')).rejects.toThrow(
      'The relay answered 503 for the script.',
    );
    const odd = new FakeFetch().route('/api/script', () => ({
      body: { name: 'x', categories: [{ key: 1 }] },
    }));
    await expect(fetchScript(odd.fetch, 'https://relay.test')).rejects.toThrow(/without valid categories/);
  });
});

describe('buildChecklist', () => {
  it('lists the script in order, pending until adherence says otherwise', () => {
    const items = buildChecklist(SCRIPT, {
      score: 10,
      categories: [
        { key: 'greeting', label: 'Greeting', weight: 10, status: 'met' },
        { key: 'upsell', label: 'Upsell', weight: 5, status: 'missed' },
      ],
    });
    expect(items.map((item) => [item.key, item.status])).toEqual([
      ['greeting', 'met'],
      ['verification', 'pending'],
      ['upsell', 'missed'],
    ]);
    expect(items[0].description).toBe('Say hello');
  });

  it('builds the checklist from adherence alone when the script is missing', () => {
    const items = buildChecklist(null, {
      score: 0,
      categories: [{ key: 'greeting', label: 'Greeting', weight: 10, status: 'pending' }],
    });
    expect(items).toEqual([{ key: 'greeting', label: 'Greeting', weight: 10, status: 'pending' }]);
  });
});
