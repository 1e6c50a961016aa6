/**
 * The relay's SSE contract, tests/contract/sse-frames.json at the repository's root: the same example
 * frames the relay's pytest checks its own frames against. Every example the panel is meant to show goes
 * through the stream client and the reducer and is rendered, so a field the file renames breaks here.
 */
import fs from 'fs';
import path from 'path';
import { fireEvent, screen, within } from '@testing-library/react';

import { initialPanelState, panelReducer } from './state/reducer';
import { renderLive } from './testing/renderLive';
import type { UnknownFrame } from './types';

const CONTRACT_FILE = path.resolve(__dirname, '../../../../tests/contract/sse-frames.json');

interface Contract {
  examples: Record<string, UnknownFrame & { data?: Record<string, unknown> }>;
}

const contract = JSON.parse(fs.readFileSync(CONTRACT_FILE, 'utf-8')) as Contract;
const examples = contract.examples;

/** Frames the panel ignores on purpose: the stream's greeting, and the supervisor board's (the console's). */
const NOT_FOR_THE_PANEL = new Set(['connected', 'board', 'call']);

type Tab = 'Transcript' | 'Agent view' | 'Insights' | 'Operator log';

/** What the agent sees of each example, and on which tab. */
const SHOWN: Record<string, { tab: Tab; check: () => void }> = {
  initial: {
    tab: 'Transcript',
    check: () => {
      const lines = screen.getAllByTestId('transcript-line');
      expect(lines).toHaveLength(2);
      expect(within(lines[1]).getByTestId('channel-tag')).toHaveTextContent('SMS');
      expect(screen.getByText(/Texting you my new address/)).toBeInTheDocument();
      expect(screen.getByText('Customer is moving from Denver to Austin on March 3.')).toBeInTheDocument();
      expect(screen.getByText('Sentiment: positive')).toBeInTheDocument();
      expect(screen.getByTestId('call-status')).toHaveTextContent('Call in progress');
      fireEvent.click(screen.getByRole('tab', { name: /Agent view/ }));
      expect(screen.getByTestId('suggestion')).toHaveTextContent(
        'Offer full-value protection for the piano.',
      );
      expect(screen.getByTestId('checklist-verification')).toHaveAttribute('data-status', 'missed');
      expect(screen.getByTestId('overdue-verification')).toHaveTextContent('Overdue');
      expect(screen.getByTestId('disputed-verification')).toHaveTextContent('Disputed');
      expect(screen.getByTestId('evidence-greeting')).toHaveTextContent('0:09 of 0:50');
      expect(screen.getByTestId('unread-count')).toHaveTextContent('1');
      expect(screen.getByTestId('coaching-card')).toHaveTextContent(
        'Confirm the move date before you quote.',
      );
      fireEvent.click(screen.getByRole('tab', { name: /Insights/ }));
      expect(screen.getByTestId('insight')).toHaveTextContent('Upsell Opportunity');
    },
  },
  insight: {
    tab: 'Insights',
    check: () => {
      const card = screen.getByTestId('insight');
      expect(within(card).getByRole('heading')).toHaveTextContent('Upsell Opportunity');
      expect(card).toHaveTextContent('Evidence › Customer said: Do you insure pianos?');
      expect(within(within(card).getByTestId('insight-label')).getByText('HIGH')).toHaveAttribute(
        'data-tone',
        'positive',
      );
    },
  },
  alert: {
    tab: 'Transcript',
    check: () =>
      expect(screen.getByTestId('agent-alert')).toHaveTextContent(
        'Negative sentiment: sentiment negative 1 time(s) in a row',
      ),
  },
  coaching: {
    tab: 'Transcript',
    check: () =>
      expect(screen.getByTestId('coaching-card')).toHaveTextContent(
        'From your supervisor: Confirm the move date before you quote.',
      ),
  },
  'transcript (voice)': {
    tab: 'Transcript',
    check: () => {
      const line = screen.getByTestId('transcript-line');
      expect(line).toHaveTextContent('Do you insure pianos?');
      expect(within(line).getByTestId('channel-tag')).toHaveAttribute('data-channel', 'VOICE');
    },
  },
  'transcript (sms)': {
    tab: 'Transcript',
    check: () => {
      const line = screen.getByTestId('transcript-line');
      expect(line).toHaveTextContent('Texting you my new address');
      expect(within(line).getByTestId('channel-tag')).toHaveTextContent('SMS');
    },
  },
  'operator-result': {
    tab: 'Operator log',
    check: () => expect(screen.getByTestId('operator-result')).toHaveTextContent('Summary'),
  },
  adherence: {
    tab: 'Agent view',
    check: () => {
      expect(screen.getByTestId('checklist-greeting')).toHaveAttribute('data-status', 'met');
      expect(screen.getByTestId('checklist-verification')).toHaveAttribute('data-status', 'missed');
      expect(screen.getByTestId('checklist-greeting')).toHaveAttribute('data-due', 'on_time');
      expect(screen.queryByTestId('disputed-greeting')).toBeNull(); // resolved: the verdict stands alone
    },
  },
  dispute: {
    tab: 'Agent view',
    check: () => expect(screen.getByTestId('disputed-verification')).toHaveTextContent('Disputed'),
  },
  sentiment: {
    tab: 'Transcript',
    check: () => expect(screen.getByText('Sentiment: negative')).toBeInTheDocument(),
  },
  summary: {
    tab: 'Transcript',
    check: () => expect(screen.getByText(/asked about insurance for a piano/)).toBeInTheDocument(),
  },
  'call-status': {
    tab: 'Transcript',
    check: () => expect(screen.getByTestId('call-status')).toHaveTextContent('Call completed'),
  },
  suggestion: {
    tab: 'Agent view',
    check: () =>
      expect(screen.getByTestId('suggestion')).toHaveTextContent(/Offer full-value protection for the piano/),
  },
};

describe('the SSE contract (tests/contract/sse-frames.json)', () => {
  it('has an expectation here for every example the panel shows, and the panel ignores the others', () => {
    const names = Object.keys(examples);
    const shown = names.filter((name) => !NOT_FOR_THE_PANEL.has(examples[name].type));
    expect(shown.sort()).toEqual(Object.keys(SHOWN).sort());
    for (const name of names.filter((n) => NOT_FOR_THE_PANEL.has(examples[n].type))) {
      expect(panelReducer(initialPanelState, examples[name])).toBe(initialPanelState);
    }
  });

  it.each(Object.keys(SHOWN))('the reducer takes in the %s example', (name) => {
    const state = panelReducer(initialPanelState, examples[name]);
    expect(state).not.toBe(initialPanelState);
    expect(state.loaded).toBe(true);
  });

  it.each(Object.keys(SHOWN))('the panel shows the %s example', async (name) => {
    const panel = await renderLive();
    await panel.play([
      [examples.connected, undefined],
      [examples[name], '1764079202000-0'],
    ]);
    fireEvent.click(screen.getByRole('tab', { name: new RegExp(SHOWN[name].tab) }));
    SHOWN[name].check();
  });
});
