import React from 'react';

import { AgentAssistSource, useAgentAssist } from '../state/useAgentAssist';
import { AgentAssistPanel, PanelTab } from './AgentAssistPanel';

export interface AgentAssistProps extends AgentAssistSource {
  initialTab?: PanelTab;
}

/** The live panel for one session: owns the stream for as long as it is mounted. */
export function AgentAssist({ initialTab, ...source }: AgentAssistProps): JSX.Element {
  const model = useAgentAssist(source);
  return (
    <AgentAssistPanel
      state={model.state}
      connection={model.connection}
      script={model.script}
      scriptError={model.scriptError}
      onOperatorLogViewed={model.markOperatorLogViewed}
      onDispute={model.dispute}
      onCoachingDismissed={model.dismissCoaching}
      initialTab={initialTab}
    />
  );
}
