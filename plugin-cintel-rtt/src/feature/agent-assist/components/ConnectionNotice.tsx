import React from 'react';
import { Alert } from '@twilio-paste/core/alert';
import { Badge } from '@twilio-paste/core/badge';
import { Box } from '@twilio-paste/core/box';
import { Text } from '@twilio-paste/core/text';

import type { ConnectionStatus } from '../stream/StreamClient';

export interface ConnectionNoticeProps {
  connection: ConnectionStatus;
}

/** The states that are going as they should, or nearly: a quiet badge. */
const BADGES: Partial<
  Record<ConnectionStatus['state'], { variant: 'success' | 'neutral' | 'warning'; text: string }>
> = {
  live: { variant: 'success', text: 'Live' },
  connecting: { variant: 'neutral', text: 'Connecting…' },
  reconnecting: { variant: 'warning', text: 'Reconnecting…' },
};

/** What the agent is told while the relay cannot be reached, or refused the stream. */
function NoticeAlert({ title, children }: { title: string; children: React.ReactNode }): JSX.Element {
  return (
    <Box width="100%">
      <Alert variant="error">
        <Text as="span">
          <strong>{title}</strong> {children}
        </Text>
      </Alert>
    </Box>
  );
}

/** A quiet badge while live or connecting; an alert while the relay cannot be reached; nothing once stopped. */
export function ConnectionNotice({ connection }: ConnectionNoticeProps): JSX.Element | null {
  const badge = BADGES[connection.state];
  if (badge) {
    return (
      <Badge as="span" variant={badge.variant}>
        {badge.text}
      </Badge>
    );
  }
  switch (connection.state) {
    case 'offline':
      return (
        <NoticeAlert title="Live assist is offline.">
          {connection.error ?? 'The relay cannot be reached.'} Retrying automatically; what was already shown
          stays on screen.
        </NoticeAlert>
      );
    case 'refused':
      return <NoticeAlert title="Live assist is not available.">{connection.error}</NoticeAlert>;
    default:
      return null;
  }
}
