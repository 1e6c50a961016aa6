import React from 'react';
import { Alert } from '@twilio-paste/core/alert';
import { Badge } from '@twilio-paste/core/badge';
import { Box } from '@twilio-paste/core/box';
import { Text } from '@twilio-paste/core/text';

import type { ConnectionStatus } from '../stream/StreamClient';

export interface ConnectionNoticeProps {
  connection: ConnectionStatus;
}

/** A quiet badge while live or connecting; an alert while the relay cannot be reached. */
export function ConnectionNotice({ connection }: ConnectionNoticeProps): JSX.Element | null {
  switch (connection.state) {
    case 'live':
      return (
        <Badge as="span" variant="success">
          Live
        </Badge>
      );
    case 'connecting':
      return (
        <Badge as="span" variant="neutral">
          Connecting…
        </Badge>
      );
    case 'reconnecting':
      return (
        <Badge as="span" variant="warning">
          Reconnecting…
        </Badge>
      );
    case 'offline':
      return (
        <Box width="100%">
          <Alert variant="error">
            <Text as="span">
              <strong>Live assist is offline.</strong> {connection.error ?? 'The relay cannot be reached.'}{' '}
              Retrying automatically; what was already shown stays on screen.
            </Text>
          </Alert>
        </Box>
      );
    case 'refused':
      return (
        <Box width="100%">
          <Alert variant="error">
            <Text as="span">
              <strong>Live assist is not available.</strong> {connection.error}
            </Text>
          </Alert>
        </Box>
      );
    case 'stopped':
      return null;
    default:
      return null;
  }
}
