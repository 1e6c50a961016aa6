import React, { useEffect, useRef, useState } from 'react';
import { Box } from '@twilio-paste/core/box';
import { ScreenReaderOnly } from '@twilio-paste/core/screen-reader-only';

import { Announceable, announcementsBetween } from '../state/announcements';

/** Announcements closer together than this are held back and read together, so the panel does not chatter. */
export const ANNOUNCE_GAP_MS = 2000;

export interface LiveAnnouncerProps {
  state: Announceable;
}

/** The panel's polite live region: says what changed (see announcementsBetween), rate-limited. */
export function LiveAnnouncer({ state }: LiveAnnouncerProps): JSX.Element {
  const [text, setText] = useState('');
  const previous = useRef<Announceable | null>(null);
  const pending = useRef<string[]>([]);
  const lastShown = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const digest = JSON.stringify(state);

  useEffect(() => {
    const current = JSON.parse(digest) as Announceable;
    const news = announcementsBetween(previous.current, current);
    previous.current = current;
    for (const message of news) if (!pending.current.includes(message)) pending.current.push(message);
    if (pending.current.length === 0 || timer.current) return;
    timer.current = setTimeout(
      () => {
        timer.current = null;
        lastShown.current = Date.now();
        setText(`${pending.current.join('. ')}.`);
        pending.current = [];
      },
      Math.max(0, lastShown.current + ANNOUNCE_GAP_MS - Date.now()),
    );
  }, [digest]);

  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current);
    },
    [],
  );

  return (
    <Box role="status" aria-live="polite" aria-atomic="true" data-testid="announcer">
      <ScreenReaderOnly>{text}</ScreenReaderOnly>
    </Box>
  );
}
