import React, { memo, useCallback, useLayoutEffect, useRef, useState } from 'react';
import { Badge } from '@twilio-paste/core/badge';
import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Card } from '@twilio-paste/core/card';
import { Heading } from '@twilio-paste/core/heading';
import { Paragraph } from '@twilio-paste/core/paragraph';
import { Stack } from '@twilio-paste/core/stack';
import { Text } from '@twilio-paste/core/text';

import type { Sentiment, SentimentLabel, Summary, TranscriptEntry } from '../types';
import { channelLabel, formatTime, isVoice } from './format';
import { MarkedRow } from './MarkedRow';

type BadgeVariants = React.ComponentProps<typeof Badge>['variant'];

/** How close to the bottom, in px, still counts as "following" the live transcript. */
const FOLLOW_THRESHOLD_PX = 24;

const SENTIMENT_VARIANT: Record<SentimentLabel, BadgeVariants> = {
  positive: 'success',
  negative: 'error',
  mixed: 'warning',
  neutral: 'neutral',
};

export interface TranscriptTabProps {
  transcript: TranscriptEntry[];
  summary: Summary | null;
  sentiment: Sentiment | null;
  loaded: boolean;
  /** Whether the tab is on screen; a hidden list cannot scroll, so it catches up when shown. */
  visible?: boolean;
  /** Entry ids to highlight (a checklist step's evidence); the first is scrolled into view. */
  highlighted?: string[];
}

/**
 * Which channel an entry came by: quiet for the call's own speech, a visible badge for a text message.
 * Relays older than the tag send no channel; guessing one could call a text a call, so none is shown.
 */
function ChannelTag({ channel }: { channel: string | undefined }): JSX.Element | null {
  if (!channel) return null;
  const label = channelLabel(channel);
  if (isVoice(channel)) {
    return (
      <Text
        as="span"
        fontSize="fontSize20"
        color="colorTextWeak"
        data-testid="channel-tag"
        data-channel={channel}
      >
        {label}
      </Text>
    );
  }
  return (
    <Badge as="span" variant="decorative30" data-testid="channel-tag" data-channel={channel}>
      {label}
    </Badge>
  );
}

const TranscriptRow = memo(function TranscriptRow({
  entry,
  highlighted = false,
}: {
  entry: TranscriptEntry;
  highlighted?: boolean;
}) {
  const agent = entry.speaker === 'agent';
  return (
    <MarkedRow
      mark={highlighted ? 'warning' : null}
      paddingY="space20"
      paddingX={highlighted ? 'space20' : undefined}
      data-testid="transcript-line"
      data-entry-id={entry.id}
      data-evidence={highlighted ? 'true' : undefined}
    >
      <Stack orientation="horizontal" spacing="space30">
        <Text
          as="span"
          fontWeight="fontWeightSemibold"
          color={agent ? 'colorTextPrimary' : 'colorTextSuccess'}
        >
          {agent ? 'Agent' : 'Customer'}
        </Text>
        <Text as="span" fontSize="fontSize20" color="colorTextWeak">
          {formatTime(entry.timestamp)}
        </Text>
        <ChannelTag channel={entry.channel} />
      </Stack>
      <Text as="p" overflowWrap="anywhere">
        {entry.text}
      </Text>
    </MarkedRow>
  );
});

function SentimentBadge({ sentiment }: { sentiment: Sentiment | null }): JSX.Element {
  if (!sentiment) {
    return (
      <Badge as="span" variant="default">
        Sentiment pending
      </Badge>
    );
  }
  const label = String(sentiment.label).toLowerCase() as SentimentLabel;
  return (
    <Badge as="span" variant={SENTIMENT_VARIANT[label] ?? 'neutral'}>
      Sentiment: {label}
    </Badge>
  );
}

/** Copies the summary for the agent's wrap-up notes; says whether it worked (a browser may refuse). */
function CopySummary({ text }: { text: string }): JSX.Element {
  const [copied, setCopied] = useState<'idle' | 'copied' | 'failed'>('idle');
  const copy = useCallback(() => {
    const clipboard = typeof navigator !== 'undefined' ? navigator.clipboard : undefined;
    if (!clipboard) {
      setCopied('failed');
      return;
    }
    clipboard.writeText(text).then(
      () => setCopied('copied'),
      () => setCopied('failed'),
    );
  }, [text]);
  return (
    <Box display="flex" alignItems="center" columnGap="space30">
      <Button variant="secondary" size="small" onClick={copy}>
        Copy summary
      </Button>
      <Text as="span" fontSize="fontSize20" color="colorTextWeak" aria-live="polite">
        {copied === 'copied' ? 'Copied' : copied === 'failed' ? 'Copy failed: select the text instead' : ''}
      </Text>
    </Box>
  );
}

/** Latest summary and sentiment above a live, speaker-labelled transcript. */
export function TranscriptTab({
  transcript,
  summary,
  sentiment,
  loaded,
  visible = true,
  highlighted = [],
}: TranscriptTabProps): JSX.Element {
  const scrollRef = useRef<HTMLElement>(null);
  const following = useRef(true);
  const marked = new Set(highlighted);

  const onScroll = useCallback(() => {
    const element = scrollRef.current;
    if (!element) return;
    following.current =
      element.scrollHeight - element.scrollTop - element.clientHeight <= FOLLOW_THRESHOLD_PX;
  }, []);

  useLayoutEffect(() => {
    // Follow new lines only while the agent is at the bottom; reading back must not be interrupted.
    const element = scrollRef.current;
    if (element && visible && following.current) element.scrollTop = element.scrollHeight;
  }, [transcript.length, visible]);

  const firstMarked = highlighted.find((id) => transcript.some((entry) => entry.id === id));
  useLayoutEffect(() => {
    // Bring the evidence into view when a step asks for it (and once the tab is shown).
    const element = scrollRef.current;
    if (!element || !visible || firstMarked === undefined) return;
    const row = Array.from(element.querySelectorAll<HTMLElement>('[data-entry-id]')).find(
      (node) => node.dataset.entryId === firstMarked,
    );
    if (!row) return;
    following.current = false;
    element.scrollTop = Math.max(0, row.offsetTop - element.offsetTop - element.clientHeight / 3);
  }, [firstMarked, highlighted, visible]);

  return (
    <Stack orientation="vertical" spacing="space40">
      <Card padding="space50">
        <Stack orientation="vertical" spacing="space30">
          <Box display="flex" alignItems="center" justifyContent="space-between" columnGap="space30">
            <Heading as="h3" variant="heading50" marginBottom="space0">
              {summary?.final ? 'Post-call summary' : 'Summary'}
            </Heading>
            <SentimentBadge sentiment={sentiment} />
          </Box>
          <Paragraph marginBottom="space0">{summary ? summary.text : 'No summary yet.'}</Paragraph>
          {summary ? <CopySummary key={summary.text} text={summary.text} /> : null}
        </Stack>
      </Card>
      <Box
        ref={scrollRef}
        onScroll={onScroll}
        maxHeight="size50"
        overflowY="auto"
        borderStyle="solid"
        borderWidth="borderWidth10"
        borderColor="colorBorderWeaker"
        borderRadius="borderRadius20"
        padding="space40"
        data-testid="transcript-scroll"
        // It scrolls: the keyboard must be able to reach it and scroll it.
        tabIndex={0}
        role="region"
        aria-label="Transcript, scrollable"
      >
        {transcript.length === 0 ? (
          <Text as="p" color="colorTextWeak">
            {loaded ? 'No one has spoken yet on this call.' : 'Waiting for the transcript…'}
          </Text>
        ) : (
          <Box as="ul" margin="space0" padding="space0" aria-label="Transcript" aria-live="polite">
            {transcript.map((entry, index) => (
              <TranscriptRow
                key={entry.id ?? `line-${index}`}
                entry={entry}
                highlighted={entry.id !== undefined && marked.has(entry.id)}
              />
            ))}
          </Box>
        )}
      </Box>
    </Stack>
  );
}
