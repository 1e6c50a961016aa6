import React, { useCallback, useEffect, useState } from 'react';
import { Badge } from '@twilio-paste/core/badge';
import { Box } from '@twilio-paste/core/box';
import { Tab, TabList, TabPanel, TabPanels, Tabs, useTabState } from '@twilio-paste/core/tabs';
import { ScreenReaderOnly } from '@twilio-paste/core/screen-reader-only';
import { Text } from '@twilio-paste/core/text';
import { useUID } from '@twilio-paste/core/uid-library';

import { buildChecklist } from '../script';

import type { PanelState } from '../state/reducer';
import type { ConnectionStatus } from '../stream/StreamClient';
import type { Script, Suggestion } from '../types';
import { AgentViewTab } from './AgentViewTab';
import { AgentAlerts } from './AgentAlerts';
import { CoachingCards } from './CoachingCards';
import { ConnectionNotice } from './ConnectionNotice';
import { InsightsTab } from './InsightsTab';
import { LiveAnnouncer } from './LiveAnnouncer';
import { OperatorLogTab } from './OperatorLogTab';
import { TranscriptTab } from './TranscriptTab';

export type PanelTab = 'transcript' | 'agent-view' | 'insights' | 'operator-log';

export interface AgentAssistPanelProps {
  state: PanelState;
  connection: ConnectionStatus;
  script: Script | null;
  scriptError: string | null;
  onOperatorLogViewed: () => void;
  /** Open a dispute on a category; without it the checklist offers none. */
  onDispute?: (category: string, note?: string) => Promise<void>;
  /** The agent dismissed a coaching note. */
  onCoachingDismissed?: (id: string) => void;
  /** The suggested response's "use" action, when the panel runs in Flex for a task. */
  useSuggestion?: { label: string; onUse: (suggestion: Suggestion) => void } | null;
  initialTab?: PanelTab;
}

function callStatusLabel(status: string): string {
  return status.replace(/-/g, ' ');
}

/** The live assist panel: coaching notes on top, then transcript, script checklist, insights, operator log. */
export function AgentAssistPanel({
  state,
  connection,
  script,
  scriptError,
  onOperatorLogViewed,
  onDispute,
  onCoachingDismissed,
  useSuggestion = null,
  initialTab = 'transcript',
}: AgentAssistPanelProps): JSX.Element {
  const baseId = useUID();
  const tabId = (tab: PanelTab): string => `${baseId}-${tab}`;
  const tabState = useTabState({ baseId, selectedId: tabId(initialTab) });
  const logOpen = tabState.selectedId === tabId('operator-log');
  const transcriptOpen = tabState.selectedId === tabId('transcript');
  const unread = state.unreadOperatorResults;
  // The transcript entries a checklist step's verdict judged, shown highlighted on the transcript tab.
  const [evidence, setEvidence] = useState<string[]>([]);
  const { select } = tabState;
  const showEvidence = useCallback(
    (ids: string[]) => {
      setEvidence(ids);
      select(tabId('transcript'));
    },
    // tabId depends only on baseId
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [select, baseId],
  );

  useEffect(() => {
    // Results that arrive while the log is on screen are read as they come.
    if (logOpen && unread > 0) onOperatorLogViewed();
  }, [logOpen, unread, onOperatorLogViewed]);

  return (
    <Box
      display="flex"
      flexDirection="column"
      rowGap="space30"
      padding="space40"
      height="100%"
      overflowY="auto"
      data-testid="agent-assist-panel"
    >
      <LiveAnnouncer
        state={{
          loaded: state.loaded,
          checklist: buildChecklist(script, state.adherence).map(({ key, label, status }) => ({
            key,
            label,
            status,
          })),
          connection: connection.state,
          negative: String(state.sentiment?.label).toLowerCase() === 'negative',
        }}
      />
      <Box display="flex" alignItems="center" flexWrap="wrap" columnGap="space30" rowGap="space30">
        <ConnectionNotice connection={connection} />
        {state.callStatus ? (
          <Badge as="span" variant="decorative20" data-testid="call-status">
            Call {callStatusLabel(state.callStatus.status)}
          </Badge>
        ) : null}
      </Box>
      <AgentAlerts alerts={state.alerts} />
      <CoachingCards
        coaching={state.coaching}
        dismissed={state.dismissedCoaching}
        onDismiss={onCoachingDismissed}
      />
      <Tabs state={tabState}>
        <TabList aria-label="Live assist">
          <Tab id={tabId('transcript')}>Transcript</Tab>
          <Tab id={tabId('agent-view')}>Agent view</Tab>
          <Tab id={tabId('insights')}>Insights</Tab>
          <Tab id={tabId('operator-log')}>
            <Box as="span" display="inline-flex" alignItems="center" columnGap="space20">
              <Text as="span" color="inherit">
                Operator log
              </Text>
              {unread > 0 ? (
                <Badge as="span" variant="neutral_counter" data-testid="unread-count">
                  {unread}
                  <ScreenReaderOnly> unread</ScreenReaderOnly>
                </Badge>
              ) : null}
            </Box>
          </Tab>
        </TabList>
        <TabPanels>
          <TabPanel>
            <TranscriptTab
              transcript={state.transcript}
              summary={state.summary}
              sentiment={state.sentiment}
              loaded={state.loaded}
              visible={transcriptOpen}
              highlighted={evidence}
            />
          </TabPanel>
          <TabPanel>
            <AgentViewTab
              script={script}
              scriptError={scriptError}
              adherence={state.adherence}
              suggestion={state.suggestion}
              disputes={state.disputes}
              onShowEvidence={showEvidence}
              onDispute={onDispute}
              useSuggestion={useSuggestion}
            />
          </TabPanel>
          <TabPanel>
            <InsightsTab insights={state.insights} loaded={state.loaded} />
          </TabPanel>
          <TabPanel>
            <OperatorLogTab operatorResults={state.operatorResults} loaded={state.loaded} />
          </TabPanel>
        </TabPanels>
      </Tabs>
    </Box>
  );
}
