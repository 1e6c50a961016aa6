/** Render the live panel against fake relay I/O and drive it with recorded frames (tests only). */
import React from 'react';
import { act, render, RenderResult } from '@testing-library/react';
import { Theme } from '@twilio-paste/core/theme';

import { AgentAssist } from '../components/AgentAssist';
import type { PanelTab } from '../components/AgentAssistPanel';
import { EventSources, FakeFetch, settle } from './fakes';
import { SCRIPT, SESSION_ID } from './recordedCall';

export const BACKEND = 'https://relay.test';

export interface LivePanel extends RenderResult {
  sources: EventSources;
  http: FakeFetch;
  /** Deliver frames on the open stream, as the relay would. */
  play(frames: Array<[unknown, string | undefined]>): Promise<void>;
}

export function relayFetch(): FakeFetch {
  return new FakeFetch()
    .route('/api/stream-ticket', () => ({
      body: { ticket: 'ticket-1', expiresAt: '2026-11-25T15:00:00Z', auth: 'flex' },
    }))
    .route('/api/script', () => ({ body: SCRIPT }));
}

export async function renderLive(
  options: { http?: FakeFetch; initialTab?: PanelTab; open?: boolean } = {},
): Promise<LivePanel> {
  const http = options.http ?? relayFetch();
  const sources = new EventSources();
  const view = render(
    <Theme.Provider theme="default">
      <AgentAssist
        backendUrl={BACKEND}
        sessionId={SESSION_ID}
        getToken={() => 'flex-token'}
        fetch={http.fetch}
        createEventSource={sources.create}
        initialTab={options.initialTab}
      />
    </Theme.Provider>,
  );
  await act(settle);
  if (options.open !== false) {
    await act(async () => {
      sources.latest.open();
      await settle();
    });
  }
  const play = async (frames: Array<[unknown, string | undefined]>): Promise<void> => {
    await act(async () => {
      for (const [frame, id] of frames) sources.latest.emit(frame, id);
      await settle();
    });
  };
  return { ...view, sources, http, play };
}
