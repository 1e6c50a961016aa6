import React from 'react';
import { Box, BoxProps } from '@twilio-paste/core/box';

/** How a marked row stands out: an overdue checklist step (error), a transcript line shown as evidence (warning). */
export type RowMark = 'error' | 'warning';

const MARKS = {
  error: { backgroundColor: 'colorBackgroundErrorWeakest', borderLeftColor: 'colorBorderError' },
  warning: { backgroundColor: 'colorBackgroundWarningWeakest', borderLeftColor: 'colorBorderWarning' },
} as const;

export interface MarkedRowProps extends Omit<BoxProps, 'as'> {
  /** Marked rows get a tinted background and a bar on the left; null: a plain row. */
  mark: RowMark | null;
}

/** A list item of the panel's lists, marked when something about it needs the agent's eye. */
export function MarkedRow({ mark, children, ...props }: MarkedRowProps): JSX.Element {
  const style = mark ? MARKS[mark] : null;
  return (
    <Box
      as="li"
      listStyleType="none"
      backgroundColor={style?.backgroundColor}
      borderLeftStyle={style ? 'solid' : undefined}
      borderLeftWidth={style ? 'borderWidth20' : undefined}
      borderLeftColor={style?.borderLeftColor}
      {...props}
    >
      {children}
    </Box>
  );
}
