import React from 'react';
import { Alert } from '@twilio-paste/core/alert';
import { Badge } from '@twilio-paste/core/badge';
import { Box } from '@twilio-paste/core/box';
import { Card } from '@twilio-paste/core/card';
import { Heading } from '@twilio-paste/core/heading';
import { Paragraph } from '@twilio-paste/core/paragraph';
import { Stack } from '@twilio-paste/core/stack';
import { Text } from '@twilio-paste/core/text';

import { buildChecklist, ChecklistItem } from '../script';
import type { Adherence, CategoryStatus, Script, Suggestion } from '../types';
import { formatTime } from './format';
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
}

function SuggestionCard({ suggestion }: { suggestion: Suggestion }): JSX.Element {
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
    </Card>
  );
}

function ChecklistRow({ item }: { item: ChecklistItem }): JSX.Element {
  const badge = STATUS_BADGE[item.status] ?? STATUS_BADGE.pending;
  return (
    <Box
      as="li"
      listStyleType="none"
      display="flex"
      alignItems="flex-start"
      justifyContent="space-between"
      columnGap="space40"
      paddingY="space30"
      borderBottomStyle="solid"
      borderBottomWidth="borderWidth10"
      borderBottomColor="colorBorderWeaker"
      data-testid={`checklist-${item.key}`}
      data-status={item.status}
    >
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
      </Box>
      <Badge as="span" variant={badge.variant}>
        {badge.label}
      </Badge>
    </Box>
  );
}

/** The newest suggested response, then the script checklist ticked live from adherence events. */
export function AgentViewTab({
  script,
  scriptError,
  adherence,
  suggestion = null,
}: AgentViewTabProps): JSX.Element {
  const items = buildChecklist(script, adherence);
  const score = adherence ? adherence.score : 0;
  return (
    <Stack orientation="vertical" spacing="space50">
      {suggestion ? <SuggestionCard suggestion={suggestion} /> : null}
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
            <ChecklistRow key={item.key} item={item} />
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
