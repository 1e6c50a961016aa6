/**
 * The checklist's audit trail as the relay decides it: when a step was done against its deadline, overdue
 * steps, the evidence shown in the transcript, and a one-click dispute next to the model's verdict.
 */
import { fireEvent, screen, waitFor, within } from '@testing-library/react';

import { SESSION_ID } from '../testing/recordedCall';
import { BACKEND, relayFetch, renderLive } from '../testing/renderLive';
import type { AdherenceCategory } from '../types';

function category(key: string, fields: Partial<AdherenceCategory>): AdherenceCategory {
  return {
    key,
    label: key,
    weight: 25,
    status: 'pending',
    evidence: null,
    metAt: null,
    metAfterSeconds: null,
    withinSeconds: null,
    due: 'open',
    dispute: null,
    ...fields,
  };
}

const LINES = ['GC1', 'GC2', 'GC3', 'GC4'].map((id, n) => ({
  id,
  timestamp: `2026-11-25T14:00:0${n}Z`,
  speaker: n % 2 ? 'customer' : 'agent',
  text: `line ${id}`,
  channel: 'VOICE',
}));

const STATE = {
  type: 'adherence',
  data: {
    categories: [
      category('greeting', {
        status: 'met',
        evidence: ['GC2', 'GC3'],
        metAfterSeconds: 42,
        withinSeconds: 50,
        due: 'on_time',
      }),
      category('verification', { status: 'missed', withinSeconds: 50, due: 'overdue' }),
      category('move_details', {
        status: 'met',
        evidence: ['GC4'],
        metAfterSeconds: 75,
        withinSeconds: 60,
        due: 'late',
      }),
      category('confirmation', {}),
    ],
    score: 52.5,
    lateCredit: 0.5,
    explanation: null,
  },
};

async function panelWithState(http = relayFetch()) {
  const panel = await renderLive({ http });
  await panel.play([
    [{ type: 'connected', sessionId: SESSION_ID }, undefined],
    [{ type: 'initial', transcript: LINES, operatorResults: [], adherence: null }, '1-0'],
    [STATE, '2-0'],
  ]);
  fireEvent.click(screen.getByRole('tab', { name: /Agent view/ }));
  return panel;
}

describe('the checklist audit trail', () => {
  it('shows when each step was done against its deadline, and overdue and late steps', async () => {
    await panelWithState();
    expect(screen.getByTestId('evidence-greeting')).toHaveTextContent('0:42 of 0:50');
    expect(screen.getByTestId('checklist-verification')).toHaveAttribute('data-due', 'overdue');
    expect(screen.getByTestId('overdue-verification')).toHaveTextContent('Overdue');
    expect(screen.getByTestId('timing-verification')).toHaveTextContent('due by 0:50');
    expect(within(screen.getByTestId('checklist-move_details')).getByText('Late')).toBeInTheDocument();
    expect(screen.getByTestId('evidence-move_details')).toHaveTextContent('1:15 of 1:00');
    expect(screen.queryByTestId('overdue-greeting')).toBeNull();
  });

  it('a click on a step with evidence opens the transcript with the judged lines highlighted', async () => {
    await panelWithState();
    fireEvent.click(screen.getByTestId('evidence-greeting'));
    await waitFor(() =>
      expect(screen.getByRole('tab', { name: /Transcript/ })).toHaveAttribute('aria-selected', 'true'),
    );
    const marked = screen
      .getAllByTestId('transcript-line')
      .filter((line) => line.getAttribute('data-evidence') === 'true');
    expect(marked.map((line) => line.getAttribute('data-entry-id'))).toEqual(['GC2', 'GC3']);
  });

  it('a dispute is one click, with the optional note, authorized by a stream ticket; the verdict stays', async () => {
    const http = relayFetch().route(`/api/calls/${SESSION_ID}/disputes`, () => ({ status: 201, body: {} }));
    const panel = await panelWithState(http);
    expect(screen.queryByTestId('dispute-greeting')).toBeNull(); // a met step takes no dispute
    fireEvent.change(screen.getByTestId('dispute-note-verification'), {
      target: { value: 'I asked at 0:31' },
    });
    fireEvent.click(screen.getByTestId('dispute-verification'));
    await waitFor(() => expect(http.to(`/api/calls/${SESSION_ID}/disputes`)).toHaveLength(1));
    const [request] = http.to(`/api/calls/${SESSION_ID}/disputes`);
    expect(request.url).toBe(`${BACKEND}/api/calls/${SESSION_ID}/disputes?ticket=ticket-1`);
    expect(JSON.parse(String(request.init?.body))).toEqual({
      category: 'verification',
      note: 'I asked at 0:31',
    });

    const dispute = {
      id: 'd1',
      category: 'verification',
      by: 'agent',
      at: '2026-11-25T14:01:00Z',
      note: 'I asked at 0:31',
      status: 'open',
    };
    await panel.play([[{ type: 'dispute', data: dispute }, '3-0']]);
    expect(screen.getByTestId('disputed-verification')).toHaveTextContent('Disputed');
    expect(screen.getByTestId('checklist-verification')).toHaveAttribute('data-status', 'missed');
    expect(screen.queryByTestId('dispute-verification')).toBeNull();
  });

  it("shows the relay's reason when it refuses a dispute", async () => {
    const http = relayFetch().route(`/api/calls/${SESSION_ID}/disputes`, () => ({
      status: 409,
      body: { error: 'this step already has an open dispute; it is resolved when the step is met.' },
    }));
    await panelWithState(http);
    fireEvent.click(screen.getByTestId('dispute-confirmation'));
    expect(await screen.findByText(/already has an open dispute/)).toBeInTheDocument();
  });
});
