import React from 'react';
import { render, screen, within, fireEvent } from '@testing-library/react';
import { Theme } from '@twilio-paste/core/theme';

import { renderLive } from '../testing/renderLive';
import { FRESH_CONNECT, LIVE_EVENTS } from '../testing/recordedCall';
import type { TranscriptEntry } from '../types';
import * as format from './format';
import { TranscriptTab } from './TranscriptTab';

describe('Transcript tab', () => {
  it('shows the call live: speaker-labelled lines, the latest summary and the sentiment', async () => {
    const panel = await renderLive();
    await panel.play(FRESH_CONNECT);
    expect(screen.getByText('No one has spoken yet on this call.')).toBeInTheDocument();
    expect(screen.getByText('Sentiment pending')).toBeInTheDocument();
    expect(screen.getByTestId('call-status')).toHaveTextContent('Call in progress');

    await panel.play(LIVE_EVENTS);

    const lines = screen.getAllByTestId('transcript-line');
    expect(lines).toHaveLength(2);
    expect(within(lines[0]).getByText('Agent')).toBeInTheDocument();
    expect(lines[0]).toHaveTextContent('Thanks for calling Swift Movers');
    expect(within(lines[1]).getByText('Customer')).toBeInTheDocument();
    // These frames name no channel (an older relay): no tag rather than a guess.
    expect(screen.queryAllByTestId('channel-tag')).toHaveLength(0);
    expect(
      screen.getByText('Customer wants to move a two-bedroom apartment next month.'),
    ).toBeInTheDocument();
    expect(screen.getByText(/Sentiment: positive/)).toBeInTheDocument();
  });

  it('shows the post-call summary while the task wraps up, with a copy action', async () => {
    const writeText = jest.fn().mockResolvedValue(undefined);
    Object.assign(navigator, { clipboard: { writeText } });
    render(
      <Theme.Provider theme="default">
        <TranscriptTab
          transcript={[]}
          summary={{ text: 'Moving Denver to Austin on March 3.', final: true }}
          sentiment={null}
          loaded
        />
      </Theme.Provider>,
    );
    expect(screen.getByRole('heading', { name: 'Post-call summary' })).toBeInTheDocument();
    fireEvent.click(screen.getByRole('button', { name: 'Copy summary' }));
    expect(writeText).toHaveBeenCalledWith('Moving Denver to Austin on March 3.');
    expect(await screen.findByText('Copied')).toBeInTheDocument();
  });

  it('says so when the browser refuses to copy', async () => {
    Object.assign(navigator, { clipboard: { writeText: jest.fn().mockRejectedValue(new Error('denied')) } });
    render(
      <Theme.Provider theme="default">
        <TranscriptTab transcript={[]} summary={{ text: 'Running.' }} sentiment={null} loaded />
      </Theme.Provider>,
    );
    expect(screen.getByRole('heading', { name: 'Summary' })).toBeInTheDocument();
    fireEvent.click(screen.getByRole('button', { name: 'Copy summary' }));
    expect(await screen.findByText(/Copy failed/)).toBeInTheDocument();
  });

  it('replaces what it shows with a fresh snapshot', async () => {
    const panel = await renderLive();
    await panel.play([...FRESH_CONNECT, ...LIVE_EVENTS]);
    await panel.play([
      [
        {
          type: 'initial',
          transcript: [
            {
              id: 'GC9',
              speaker: 'customer',
              text: 'Only this line now.',
              timestamp: '2026-11-25T14:05:00Z',
            },
          ],
          operatorResults: [],
        },
        undefined,
      ],
    ]);
    expect(screen.getAllByTestId('transcript-line')).toHaveLength(1);
    expect(screen.getByText('No summary yet.')).toBeInTheDocument();
  });

  describe('long calls', () => {
    function lines(count: number): TranscriptEntry[] {
      return Array.from({ length: count }, (_, index) => ({
        id: `GC${index}`,
        speaker: index % 2 ? 'customer' : 'agent',
        text: `line ${index}`,
        timestamp: '2026-11-25T14:00:00Z',
      }));
    }

    function renderTab(transcript: TranscriptEntry[], visible = true) {
      return (
        <Theme.Provider theme="default">
          <TranscriptTab transcript={transcript} summary={null} sentiment={null} loaded visible={visible} />
        </Theme.Provider>
      );
    }

    function fakeLayout(element: HTMLElement, scrollHeight: number, clientHeight: number): void {
      Object.defineProperty(element, 'scrollHeight', { configurable: true, value: scrollHeight });
      Object.defineProperty(element, 'clientHeight', { configurable: true, value: clientHeight });
    }

    it('follows new lines while the agent is at the bottom', () => {
      const view = render(renderTab(lines(300)));
      const scroller = screen.getByTestId('transcript-scroll');
      fakeLayout(scroller, 9000, 400);
      view.rerender(renderTab(lines(301)));
      expect(scroller.scrollTop).toBe(9000);
    });

    it('renders only the new row when a line arrives on a long call', () => {
      const call = lines(501);
      const view = render(renderTab(call.slice(0, 500)));
      const rowRenders = jest.spyOn(format, 'formatTime');
      view.rerender(renderTab(call));
      expect(rowRenders).toHaveBeenCalledTimes(1);
      rowRenders.mockRestore();
    });

    it('catches up with lines that arrived while another tab was shown', () => {
      const view = render(renderTab(lines(10), false));
      const scroller = screen.getByTestId('transcript-scroll');
      fakeLayout(scroller, 9000, 400);
      view.rerender(renderTab(lines(20), false));
      expect(scroller.scrollTop).toBe(0);
      view.rerender(renderTab(lines(20), true));
      expect(scroller.scrollTop).toBe(9000);
    });

    it('stays put once the agent scrolled up to read', () => {
      const view = render(renderTab(lines(300)));
      const scroller = screen.getByTestId('transcript-scroll');
      fakeLayout(scroller, 9000, 400);
      scroller.scrollTop = 1200;
      fireEvent.scroll(scroller);
      view.rerender(renderTab(lines(301)));
      expect(scroller.scrollTop).toBe(1200);
    });
  });
});
