import React from 'react';
import { act, render, screen, waitFor } from '@testing-library/react';
import { Theme } from '@twilio-paste/core/theme';

import { FakeFetch, settle } from '../testing/fakes';
import { FRESH_CONNECT, LIVE_EVENTS } from '../testing/recordedCall';
import { BACKEND, renderLive } from '../testing/renderLive';
import { ConnectionNotice } from './ConnectionNotice';
import { TaskAgentAssist } from './TaskAgentAssist';

describe('Agent assist panel', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('shows Live once the stream is open', async () => {
    await renderLive();
    expect(screen.getByText('Live')).toBeInTheDocument();
  });

  it('announces a step newly met in a polite live region, not what was met before it opened', async () => {
    const panel = await renderLive();
    await panel.play(FRESH_CONNECT);
    const region = screen.getByRole('status');
    expect(region).toHaveAttribute('aria-live', 'polite');
    expect(region.textContent).toBe('');
    await panel.play(LIVE_EVENTS);
    await waitFor(() => expect(region).toHaveTextContent('Step Greeting met.'));
  });

  it('says the relay is down, keeps retrying and recovers on its own', async () => {
    jest.useFakeTimers();
    let relayUp = false;
    const http = new FakeFetch().route('/api/stream-ticket', () => {
      if (!relayUp) throw new TypeError('Failed to fetch');
      return { body: { ticket: null, auth: 'none' } };
    });
    const panel = await renderLive({ http, open: false });
    await act(settle);
    expect(screen.getByText('Reconnecting…')).toBeInTheDocument();

    for (let i = 0; i < 2; i += 1) {
      await act(async () => {
        jest.advanceTimersByTime(30000);
        await settle();
      });
    }
    expect(screen.getByText(/Live assist is offline/)).toBeInTheDocument();
    expect(panel.sources.all).toHaveLength(0);

    relayUp = true;
    await act(async () => {
      jest.advanceTimersByTime(30000);
      await settle();
    });
    await act(async () => {
      panel.sources.latest.open();
      await settle();
    });
    expect(screen.queryByText(/Live assist is offline/)).not.toBeInTheDocument();
    expect(screen.getByText('Live')).toBeInTheDocument();
  });

  it('says why when the stream client has given up on a refusal', () => {
    render(
      <Theme.Provider theme="default">
        <ConnectionNotice
          connection={{ state: 'refused', error: 'You are not allowed to follow this call (403).' }}
        />
      </Theme.Provider>,
    );
    expect(screen.getByRole('alert')).toHaveTextContent(
      'Live assist is not available. You are not allowed to follow this call (403).',
    );
  });

  it('closes the stream when it unmounts', async () => {
    const panel = await renderLive();
    await panel.play(FRESH_CONNECT);
    panel.unmount();
    expect(panel.sources.latest.closed).toBe(true);
  });
});

describe('TaskAgentAssist', () => {
  function renderTask(props: React.ComponentProps<typeof TaskAgentAssist>) {
    return render(
      <Theme.Provider theme="default">
        <TaskAgentAssist {...props} />
      </Theme.Provider>,
    );
  }

  it('asks for a task when none is selected', () => {
    renderTask({ task: null, backend: { url: BACKEND }, getToken: () => 'token' });
    expect(screen.getByText('Select a task to see its live transcript and checklist.')).toBeInTheDocument();
  });

  it('says live assist is not available for a task without a call or conversation', () => {
    renderTask({
      task: { taskChannelUniqueName: 'email', attributes: {} },
      backend: { url: BACKEND },
      getToken: () => 'token',
    });
    expect(screen.getByText(/not available for this task/)).toBeInTheDocument();
  });

  it('shows the configuration error instead of the panel', () => {
    renderTask({
      task: { attributes: { call_sid: 'CA1' } },
      backend: { error: 'The cintel-relay URL is not configured. Set REACT_APP_BACKEND_URL' },
      getToken: () => 'token',
    });
    expect(screen.getByText(/REACT_APP_BACKEND_URL/)).toBeInTheDocument();
  });
});
