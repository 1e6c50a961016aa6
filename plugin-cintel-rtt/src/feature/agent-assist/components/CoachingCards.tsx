import React from 'react';
import { Alert } from '@twilio-paste/core/alert';
import { Box } from '@twilio-paste/core/box';
import { Text } from '@twilio-paste/core/text';

import type { Coaching } from '../types';

export interface CoachingCardsProps {
  coaching: Coaching[];
  dismissed: string[];
  onDismiss?: (id: string) => void;
}

/** A supervisor's notes for this call, shown at once above the tabs until the agent dismisses each. */
export function CoachingCards({ coaching, dismissed, onDismiss }: CoachingCardsProps): JSX.Element | null {
  const shown = coaching.filter((note) => !dismissed.includes(note.id));
  if (shown.length === 0) return null;
  return (
    <Box display="flex" flexDirection="column" rowGap="space20">
      {shown.map((note) => (
        <Box key={note.id} data-testid="coaching-card">
          <Alert variant="neutral" onDismiss={onDismiss ? () => onDismiss(note.id) : undefined}>
            <Text as="span" fontWeight="fontWeightSemibold">
              From your supervisor:{' '}
            </Text>
            <Text as="span">{note.text}</Text>
          </Alert>
        </Box>
      ))}
    </Box>
  );
}
