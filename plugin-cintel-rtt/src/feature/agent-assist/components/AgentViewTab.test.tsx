import { act, screen, waitFor } from '@testing-library/react';

import { FakeFetch, settle } from '../testing/fakes';
import { FRESH_CONNECT, LIVE_EVENTS, SCRIPT } from '../testing/recordedCall';
import { renderLive } from '../testing/renderLive';

function status(key: string): string | null {
  return screen.getByTestId(`checklist-${key}`).getAttribute('data-status');
}

describe('Agent view tab', () => {
  it('builds the checklist from the relay script and ticks it from adherence events', async () => {
    const panel = await renderLive({ initialTab: 'agent-view' });
    await panel.play(FRESH_CONNECT);

    expect(panel.http.to('/api/script')).toHaveLength(1);
    expect(await screen.findByText('Moving company intake')).toBeInTheDocument();
    expect(screen.getByText('Verify name and address.')).toBeInTheDocument();
    expect(['greeting', 'verification', 'move_details', 'confirmation'].map(status)).toEqual([
      'pending',
      'pending',
      'pending',
      'pending',
    ]);
    expect(screen.getByRole('progressbar', { name: 'Adherence score' })).toHaveAttribute(
      'aria-valuenow',
      '0',
    );

    await panel.play(LIVE_EVENTS);

    expect(status('greeting')).toBe('met');
    expect(status('verification')).toBe('pending');
    expect(screen.getByTestId('checklist-greeting')).toHaveTextContent('Met');
    expect(screen.getByRole('progressbar', { name: 'Adherence score' })).toHaveAttribute(
      'aria-valuenow',
      '10',
    );
    expect(screen.getByTestId('score-value')).toHaveTextContent('10%');
    expect(screen.getByText('The agent greeted the customer and gave their name.')).toBeInTheDocument();
  });

  it('falls back to the categories adherence reports when the script cannot be loaded', async () => {
    const http = new FakeFetch()
      .route('/api/stream-ticket', () => ({ body: { ticket: null, auth: 'none' } }))
      .route('/api/script', () => ({ status: 500, body: { error: 'boom' } }));
    const panel = await renderLive({ http, initialTab: 'agent-view' });

    expect(
      await screen.findByText(/The script could not be loaded: The relay answered 500/),
    ).toBeInTheDocument();
    expect(screen.getByText('No checklist is available yet.')).toBeInTheDocument();

    await panel.play([...FRESH_CONNECT, ...LIVE_EVENTS]);

    await waitFor(() => expect(status('greeting')).toBe('met'));
    expect(screen.getByText(/Showing the categories reported so far/)).toBeInTheDocument();
  });

  it('asks for the script again once the relay is back', async () => {
    jest.useFakeTimers();
    try {
      let scriptUp = false;
      const http = new FakeFetch()
        .route('/api/stream-ticket', () => ({ body: { ticket: null, auth: 'none' } }))
        .route('/api/script', () =>
          scriptUp ? { body: SCRIPT } : { status: 503, body: { error: 'starting' } },
        );
      const panel = await renderLive({ http, initialTab: 'agent-view' });
      expect(await screen.findByText(/The relay answered 503/)).toBeInTheDocument();

      scriptUp = true;
      await act(async () => {
        panel.sources.latest.drop();
        jest.advanceTimersByTime(30000);
        await settle();
        panel.sources.latest.open();
        await settle();
      });

      expect(await screen.findByText('Moving company intake')).toBeInTheDocument();
      expect(http.to('/api/script')).toHaveLength(2);
      expect(screen.queryByText(/could not be loaded/)).not.toBeInTheDocument();
    } finally {
      jest.useRealTimers();
    }
  });

  it('shows the newest suggested response above the checklist, and no card before there is one', async () => {
    const panel = await renderLive({ initialTab: 'agent-view' });
    await panel.play(FRESH_CONNECT);
    expect(screen.queryByTestId('suggestion')).not.toBeInTheDocument();

    const suggest = (id: string, text: string): [unknown, string] => [
      { type: 'suggestion', data: { id, text, timestamp: '2026-11-25T14:00:30Z', operatorResultId: id } },
      `1764079230000-${id}`,
    ];
    await panel.play([suggest('1', 'Ask for the move date.'), suggest('2', 'Offer full-value protection.')]);

    const card = screen.getByTestId('suggestion');
    expect(card).toHaveTextContent('Suggested response');
    expect(card).toHaveTextContent('Offer full-value protection.');
    expect(screen.queryByText('Ask for the move date.')).not.toBeInTheDocument();
  });
});
