import React, { useRef, useState } from 'react';
import { Alert } from '@twilio-paste/core/alert';
import { Badge } from '@twilio-paste/core/badge';
import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Card } from '@twilio-paste/core/card';
import { Heading } from '@twilio-paste/core/heading';
import { Paragraph } from '@twilio-paste/core/paragraph';
import { Stack } from '@twilio-paste/core/stack';
import { Text } from '@twilio-paste/core/text';

import { buildChecklist, ChecklistItem } from '../script';
import type { Adherence, CategoryStatus, Dispute, Script, Suggestion } from '../types';
import { formatTime, formatTiming } from './format';
import { MarkedRow } from './MarkedRow';
import { ScoreBar } from './ScoreBar';

type BadgeVariants = React.ComponentProps<typeof Badge>['variant'];

const STATUS_BADGE: Record<CategoryStatus, { variant: BadgeVariants; label: string }> = {
  met: { variant: 'success', label: 'Met' },
  missed: { variant: 'error', label: 'Missed' },
  pending: { variant: 'neutral', label: 'Pending' },
};

export interface AgentViewTabProps {
  script: Script | null;
  scriptError: string | null;
  adherence: Adherence | null;
  /** The newest suggested response; the card shows only once Twilio has suggested one. */
  suggestion?: Suggestion | null;
  /** Each category's latest dispute (the adherence state carries them too). */
  disputes?: Record<string, Dispute>;
  /** Show a step's evidence (transcript entry ids) in the transcript. */
  onShowEvidence?: (ids: string[]) => void;
  /** Open a dispute ("I did this") on a step; without it no dispute is offered. */
  onDispute?: (category: string, note?: string) => Promise<void>;
  /** The "use" action's label and handler ("Put in message box" on chat/SMS, "Copy" on voice); none: no button. */
  useSuggestion?: { label: string; onUse: (suggestion: Suggestion) => void } | null;
}

function SuggestionCard({
  suggestion,
  use,
}: {
  suggestion: Suggestion;
  use?: AgentViewTabProps['useSuggestion'];
}): JSX.Element {
  return (
    <Card padding="space50" data-testid="suggestion">
      <Box display="flex" alignItems="baseline" justifyContent="space-between" columnGap="space30">
        <Heading as="h3" variant="heading50" marginBottom="space0">
          Suggested response
        </Heading>
        <Text as="span" fontSize="fontSize20" color="colorTextWeak">
          {formatTime(suggestion.timestamp)}
        </Text>
      </Box>
      <Paragraph marginBottom="space0">{suggestion.text}</Paragraph>
      {use ? (
        <Box marginTop="space30">
          <Button variant="secondary" size="small" onClick={() => use.onUse(suggestion)}>
            {use.label}
          </Button>
        </Box>
      ) : null}
    </Card>
  );
}

/** "I did this": one click opens the dispute; the note is optional. */
function DisputeControls({
  item,
  onDispute,
}: {
  item: ChecklistItem;
  onDispute: (category: string, note?: string) => Promise<void>;
}): JSX.Element {
  const note = useRef<HTMLInputElement>(null);
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const send = (): void => {
    setSending(true);
    setError(null);
    onDispute(item.key, note.current?.value).then(
      () => setSending(false),
      (reason: unknown) => {
        setSending(false);
        setError(reason instanceof Error ? reason.message : 'The dispute was not stored.');
      },
    );
  };
  return (
    <Box display="flex" flexWrap="wrap" columnGap="space20" rowGap="space20" marginTop="space20">
      <Box flexGrow={1} minWidth="size10">
        {/* A plain input in Paste's tokens: Paste's Input styles trip jsdom's selector engine in the tests. */}
        <Box
          as="input"
          type="text"
          ref={note}
          placeholder="Note (optional, up to 500 characters)"
          aria-label={`Note for the dispute of ${item.label}`}
          width="100%"
          paddingX="space30"
          paddingY="space20"
          fontSize="fontSize20"
          borderStyle="solid"
          borderWidth="borderWidth10"
          borderColor="colorBorder"
          borderRadius="borderRadius20"
          data-testid={`dispute-note-${item.key}`}
        />
      </Box>
      <Button
        variant="secondary"
        size="small"
        loading={sending}
        onClick={send}
        data-testid={`dispute-${item.key}`}
      >
        I did this
      </Button>
      {error ? (
        <Text as="p" color="colorTextError" fontSize="fontSize20">
          {error}
        </Text>
      ) : null}
    </Box>
  );
}

function ChecklistRow({
  item,
  onShowEvidence,
  onDispute,
}: {
  item: ChecklistItem;
  onShowEvidence?: (ids: string[]) => void;
  onDispute?: (category: string, note?: string) => Promise<void>;
}): JSX.Element {
  const badge = STATUS_BADGE[item.status] ?? STATUS_BADGE.pending;
  const overdue = item.due === 'overdue';
  const timing = formatTiming(item);
  const evidence = item.evidence ?? [];
  const openDispute = item.dispute?.status === 'open';
  return (
    <MarkedRow
      mark={overdue ? 'error' : null}
      paddingY="space30"
      paddingX={overdue ? 'space30' : undefined}
      borderBottomStyle="solid"
      borderBottomWidth="borderWidth10"
      borderBottomColor="colorBorderWeaker"
      data-testid={`checklist-${item.key}`}
      data-status={item.status}
      data-due={item.due ?? 'open'}
    >
      <Box display="flex" alignItems="flex-start" justifyContent="space-between" columnGap="space40">
        <Box>
          <Text as="span" fontWeight="fontWeightSemibold">
            {item.label}
          </Text>
          <Text as="span" color="colorTextWeak" fontSize="fontSize20">
            {' '}
            ({item.weight}%)
          </Text>
          {item.description ? (
            <Text as="p" color="colorTextWeak" fontSize="fontSize20">
              {item.description}
            </Text>
          ) : null}
          {evidence.length > 0 && onShowEvidence ? (
            <Button
              variant="link"
              size="small"
              onClick={() => onShowEvidence(evidence)}
              data-testid={`evidence-${item.key}`}
            >
              {timing || 'Show what was judged'}
            </Button>
          ) : timing ? (
            <Text
              as="span"
              fontSize="fontSize20"
              color={overdue ? 'colorTextError' : 'colorTextWeak'}
              data-testid={`timing-${item.key}`}
            >
              {timing}
            </Text>
          ) : null}
        </Box>
        <Box display="flex" flexDirection="column" alignItems="flex-end" rowGap="space20">
          <Badge as="span" variant={badge.variant}>
            {badge.label}
          </Badge>
          {overdue ? (
            <Badge as="span" variant="error" data-testid={`overdue-${item.key}`}>
              Overdue
            </Badge>
          ) : null}
          {item.status === 'met' && item.due === 'late' ? (
            <Badge as="span" variant="warning">
              Late
            </Badge>
          ) : null}
          {openDispute ? (
            <Badge as="span" variant="decorative30" data-testid={`disputed-${item.key}`}>
              Disputed
            </Badge>
          ) : null}
        </Box>
      </Box>
      {onDispute && item.status !== 'met' && !openDispute ? (
        <DisputeControls item={item} onDispute={onDispute} />
      ) : null}
    </MarkedRow>
  );
}

/** The newest suggested response, then the script checklist ticked live from adherence events. */
export function AgentViewTab({
  script,
  scriptError,
  adherence,
  suggestion = null,
  disputes,
  onShowEvidence,
  onDispute,
  useSuggestion = null,
}: AgentViewTabProps): JSX.Element {
  const items = buildChecklist(script, adherence, disputes);
  const score = adherence ? adherence.score : 0;
  return (
    <Stack orientation="vertical" spacing="space50">
      {suggestion ? <SuggestionCard suggestion={suggestion} use={useSuggestion} /> : null}
      {scriptError && !script ? (
        <Alert variant="warning">
          <Text as="span">
            The script could not be loaded: {scriptError}
            {items.length > 0 ? ' Showing the categories reported so far.' : ''}
          </Text>
        </Alert>
      ) : null}
      <Box>
        <Heading as="h3" variant="heading50">
          {script ? script.name : 'Script adherence'}
        </Heading>
        <ScoreBar label="Adherence score" value={score} />
      </Box>
      {items.length === 0 ? (
        <Text as="p" color="colorTextWeak">
          {scriptError ? 'No checklist is available yet.' : 'Loading the script…'}
        </Text>
      ) : (
        <Box as="ul" margin="space0" padding="space0" aria-label="Script checklist">
          {items.map((item) => (
            <ChecklistRow key={item.key} item={item} onShowEvidence={onShowEvidence} onDispute={onDispute} />
          ))}
        </Box>
      )}
      {adherence?.explanation ? (
        <Box>
          <Heading as="h4" variant="heading60">
            Why
          </Heading>
          <Paragraph marginBottom="space0">{adherence.explanation}</Paragraph>
        </Box>
      ) : null}
    </Stack>
  );
}
