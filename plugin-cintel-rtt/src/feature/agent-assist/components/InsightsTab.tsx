import React from 'react';
import { Badge } from '@twilio-paste/core/badge';
import { Box } from '@twilio-paste/core/box';
import { Card } from '@twilio-paste/core/card';
import { Stack } from '@twilio-paste/core/stack';
import { Text } from '@twilio-paste/core/text';

import type { Insight, InsightField, InsightTone } from '../types';
import { formatTime } from './format';

export interface InsightsTabProps {
  insights: Record<string, Insight>;
  loaded: boolean;
}

type ToneVariant = 'neutral' | 'success' | 'warning' | 'error';

const TONE_BADGE: Record<InsightTone, ToneVariant> = {
  neutral: 'neutral',
  positive: 'success',
  warning: 'warning',
  critical: 'error',
};

function toneOf(field: InsightField): ToneVariant {
  return TONE_BADGE[field.tone] ?? 'neutral';
}

/** One field, as the relay says to show it: a note, a toned label, an entity chip, or a titled value. */
function Field({ field }: { field: InsightField }): JSX.Element {
  if (field.style === 'text') {
    return (
      <Text as="p" data-testid="insight-note">
        {field.value}
      </Text>
    );
  }
  if (field.style === 'label') {
    return (
      <Box display="flex" alignItems="center" columnGap="space20" data-testid="insight-label">
        {field.key !== 'label' ? (
          <Text as="span" fontWeight="fontWeightSemibold">
            {field.label}:
          </Text>
        ) : null}
        <Badge as="span" variant={toneOf(field)} data-tone={field.tone}>
          {field.value}
        </Badge>
      </Box>
    );
  }
  return (
    <Box as="div" data-testid="insight-field" title={field.description ?? undefined}>
      <Text as="span" fontWeight="fontWeightSemibold">
        {field.label}:{' '}
      </Text>
      <Text as="span">{field.value}</Text>
    </Box>
  );
}

function InsightCard({ insight }: { insight: Insight }): JSX.Element {
  const entities = insight.fields.filter((field) => field.style === 'entity');
  const others = insight.fields.filter((field) => field.style !== 'entity');
  return (
    <Box as="li" listStyleType="none" data-testid="insight" data-operator={insight.operatorId}>
      <Card padding="space40">
        <Stack orientation="vertical" spacing="space30">
          <Box display="flex" justifyContent="space-between" alignItems="center" columnGap="space30">
            <Text as="h3" fontWeight="fontWeightSemibold" fontSize="fontSize30">
              {insight.operatorName}
            </Text>
            {insight.timestamp ? (
              <Text as="span" fontSize="fontSize20" color="colorTextWeak">
                {formatTime(insight.timestamp)}
              </Text>
            ) : null}
          </Box>
          {others.map((field) => (
            <Field key={field.key} field={field} />
          ))}
          {entities.length > 0 ? (
            <Box display="flex" flexWrap="wrap" columnGap="space20" rowGap="space20">
              {entities.map((field, n) => (
                <Badge
                  as="span"
                  variant="decorative30"
                  key={`${field.label}-${n}`}
                  data-testid="insight-entity"
                >
                  {field.label}: {field.value}
                </Badge>
              ))}
            </Box>
          ) : null}
        </Stack>
      </Card>
    </Box>
  );
}

/** The latest result of each custom (or unknown) operator, rendered from the relay's display-ready fields. */
export function InsightsTab({ insights, loaded }: InsightsTabProps): JSX.Element {
  const all = Object.values(insights);
  if (all.length === 0) {
    return <Text as="p">{loaded ? 'No insights yet on this call.' : 'Waiting for the call…'}</Text>;
  }
  return (
    <Box as="ul" margin="space0" padding="space0" display="flex" flexDirection="column" rowGap="space30">
      {all.map((insight) => (
        <InsightCard key={insight.operatorId} insight={insight} />
      ))}
    </Box>
  );
}
