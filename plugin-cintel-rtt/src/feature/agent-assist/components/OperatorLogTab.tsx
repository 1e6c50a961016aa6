import React, { memo } from 'react';
import { Badge } from '@twilio-paste/core/badge';
import { Box } from '@twilio-paste/core/box';
import { Card } from '@twilio-paste/core/card';
import { Disclosure, DisclosureContent, DisclosureHeading } from '@twilio-paste/core/disclosure';
import { Stack } from '@twilio-paste/core/stack';
import { Text } from '@twilio-paste/core/text';

import type { OperatorResult } from '../types';
import { formatResult, formatTime } from './format';

export interface OperatorLogTabProps {
  /** Newest first. */
  operatorResults: OperatorResult[];
  loaded: boolean;
}

function operatorName(result: OperatorResult): string {
  return result.operator?.friendlyName || result.operator?.id || 'Unnamed operator';
}

const OperatorResultRow = memo(function OperatorResultRow({ result }: { result: OperatorResult }) {
  const trigger = result.executionDetails?.trigger?.on;
  const channels = result.executionDetails?.channels ?? [];
  return (
    <Box as="li" listStyleType="none" data-testid="operator-result">
      <Card padding="space40">
        <Stack orientation="vertical" spacing="space30">
          <Box display="flex" justifyContent="space-between" alignItems="center" columnGap="space30">
            <Text as="span" fontWeight="fontWeightSemibold">
              {operatorName(result)}
            </Text>
            <Text as="span" fontSize="fontSize20" color="colorTextWeak">
              {formatTime(result.timestamp)}
            </Text>
          </Box>
          <Box display="flex" flexWrap="wrap" columnGap="space20" rowGap="space20">
            {result.outputFormat ? (
              <Badge as="span" variant="decorative10">
                {result.outputFormat}
              </Badge>
            ) : null}
            {trigger ? (
              <Badge as="span" variant="info">
                Trigger: {trigger}
              </Badge>
            ) : null}
            {channels.map((channel) => (
              <Badge as="span" variant="neutral" key={channel}>
                {channel}
              </Badge>
            ))}
          </Box>
          <Disclosure variant="default">
            <DisclosureHeading as="h4" variant="heading60">
              Raw result
            </DisclosureHeading>
            <DisclosureContent>
              <Box
                as="pre"
                margin="space0"
                padding="space30"
                backgroundColor="colorBackground"
                borderRadius="borderRadius20"
                fontFamily="fontFamilyCode"
                fontSize="fontSize20"
                overflowX="auto"
                whiteSpace="pre-wrap"
              >
                {formatResult(result.result)}
              </Box>
            </DisclosureContent>
          </Disclosure>
        </Stack>
      </Card>
    </Box>
  );
});

/** Every operator result, newest first, each with its raw result behind a disclosure. */
export function OperatorLogTab({ operatorResults, loaded }: OperatorLogTabProps): JSX.Element {
  if (operatorResults.length === 0) {
    return (
      <Text as="p" color="colorTextWeak">
        {loaded ? 'No operator results yet.' : 'Waiting for operator results…'}
      </Text>
    );
  }
  return (
    <Box
      as="ul"
      margin="space0"
      padding="space0"
      display="flex"
      flexDirection="column"
      rowGap="space30"
      aria-label="Operator results"
    >
      {operatorResults.map((result) => (
        <OperatorResultRow key={result.id} result={result} />
      ))}
    </Box>
  );
}
