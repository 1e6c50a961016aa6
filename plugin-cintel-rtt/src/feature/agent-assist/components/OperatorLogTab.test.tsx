import { fireEvent, screen, waitFor, within } from '@testing-library/react';

import { FRESH_CONNECT, LIVE_EVENTS } from '../testing/recordedCall';
import { renderLive } from '../testing/renderLive';

describe('Operator log tab', () => {
  it('badges unread results on the tab and clears the badge when the log is opened', async () => {
    const panel = await renderLive();
    await panel.play([...FRESH_CONNECT, ...LIVE_EVENTS]);

    const badge = screen.getByTestId('unread-count');
    expect(badge).toHaveTextContent('2');
    // New results are ordinary news, not errors: a plain counter, without Paste's error icon.
    expect(badge.querySelector('[data-paste-element$="_ICON"]')).toBeNull();

    fireEvent.click(screen.getByRole('tab', { name: /Operator log/ }));

    expect(screen.queryByTestId('unread-count')).not.toBeInTheDocument();
  });

  it('lists every result newest first with trigger, channels, time and a collapsible raw result', async () => {
    const panel = await renderLive({ initialTab: 'operator-log' });
    await panel.play([...FRESH_CONNECT, ...LIVE_EVENTS]);

    const results = screen.getAllByTestId('operator-result');
    expect(results).toHaveLength(2);
    expect(results[0]).toHaveTextContent('Script Adherence');
    expect(results[1]).toHaveTextContent('Sentiment');
    expect(within(results[0]).getByText('Trigger: COMMUNICATION')).toBeInTheDocument();
    expect(within(results[0]).getByText('VOICE')).toBeInTheDocument();
    expect(within(results[0]).getByText('JSON')).toBeInTheDocument();

    const toggle = within(results[1]).getByRole('button', { name: 'Raw result' });
    expect(toggle).toHaveAttribute('aria-expanded', 'false');
    fireEvent.click(toggle);
    expect(toggle).toHaveAttribute('aria-expanded', 'true');
    await waitFor(() => expect(within(results[1]).getByText(/"label": "positive"/)).toBeVisible());

    // Results that arrive while the log is open are read already.
    expect(screen.queryByTestId('unread-count')).not.toBeInTheDocument();
  });

  it('says when there is nothing yet', async () => {
    const panel = await renderLive({ initialTab: 'operator-log' });
    await panel.play(FRESH_CONNECT);
    expect(screen.getByText('No operator results yet.')).toBeInTheDocument();
  });
});
