import React from 'react';
import { Box } from '@twilio-paste/core/box';
import { Text } from '@twilio-paste/core/text';

export interface ScoreBarProps {
  label: string;
  /** 0-100; values outside are clamped. */
  value: number;
}

/** A labelled percentage bar (Paste 18 has no ProgressBar/Meter), exposed as an ARIA progressbar. */
export function ScoreBar({ label, value }: ScoreBarProps): JSX.Element {
  const clamped = Math.round(Math.min(100, Math.max(0, Number.isFinite(value) ? value : 0)));
  return (
    <Box>
      <Box display="flex" justifyContent="space-between" marginBottom="space20">
        <Text as="span" fontSize="fontSize20" color="colorTextWeak">
          {label}
        </Text>
        <Text as="span" fontWeight="fontWeightSemibold" data-testid="score-value">
          {clamped}%
        </Text>
      </Box>
      <Box
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={clamped}
        height="sizeSquare30"
        backgroundColor="colorBackgroundStrong"
        borderRadius="borderRadiusPill"
        overflow="hidden"
      >
        <Box
          height="100%"
          width={`${clamped}%`}
          backgroundColor={clamped >= 80 ? 'colorBackgroundSuccess' : 'colorBackgroundPrimary'}
          transition="width 300ms ease-out"
        />
      </Box>
    </Box>
  );
}
