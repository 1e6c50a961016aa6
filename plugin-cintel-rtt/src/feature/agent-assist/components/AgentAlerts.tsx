import React from 'react';
import { Alert as PasteAlert } from '@twilio-paste/core/alert';
import { Box } from '@twilio-paste/core/box';
import { Text } from '@twilio-paste/core/text';

import type { Alert } from '../types';

export interface AgentAlertsProps {
  alerts: Record<string, Alert>;
}

const VARIANT: Record<string, 'neutral' | 'warning' | 'error'> = {
  info: 'neutral',
  warning: 'warning',
  critical: 'error',
};

/** The alert rules firing now that are meant for agents (the relay evaluates them; the panel only shows them). */
export function AgentAlerts({ alerts }: AgentAlertsProps): JSX.Element | null {
  const shown = Object.values(alerts).filter(
    (alert) => alert.state === 'firing' && (alert.audience ?? []).includes('agent'),
  );
  if (shown.length === 0) return null;
  return (
    <Box display="flex" flexDirection="column" rowGap="space20">
      {shown.map((alert) => (
        <Box key={alert.rule} data-testid="agent-alert" data-rule={alert.rule} data-severity={alert.severity}>
          <PasteAlert variant={VARIANT[alert.severity] ?? 'neutral'}>
            <Text as="span" fontWeight="fontWeightSemibold">
              {alert.title}:{' '}
            </Text>
            <Text as="span">{alert.why}</Text>
          </PasteAlert>
        </Box>
      ))}
    </Box>
  );
}
