import React, { useCallback } from 'react';

import type { TaskLike } from '../session';
import { AgentAssistSource, useAgentAssist } from '../state/useAgentAssist';
import { applySuggestion, SuggestionActions, viaFor } from '../suggestionUse';
import type { Suggestion } from '../types';
import { AgentAssistPanel, PanelTab } from './AgentAssistPanel';

export interface AgentAssistProps extends AgentAssistSource {
  initialTab?: PanelTab;
  /** The task, and how to use a suggested response for it (given by the plugin entry inside Flex). */
  task?: TaskLike | null;
  suggestionActions?: SuggestionActions;
}

/** The live panel for one session: owns the stream for as long as it is mounted. */
export function AgentAssist({
  initialTab,
  task,
  suggestionActions,
  ...source
}: AgentAssistProps): JSX.Element {
  const model = useAgentAssist(source);
  const { backendUrl, sessionId, getToken } = source;
  const fetchImpl = source.fetch;
  const results = model.state.operatorResults;
  const onUse = useCallback(
    (suggestion: Suggestion) => {
      if (!suggestionActions) return;
      const report = {
        fetch: fetchImpl ?? window.fetch.bind(window),
        backendUrl,
        sessionId,
        token: getToken(),
      };
      applySuggestion(suggestion, task, results, suggestionActions, report).catch((error: unknown) =>
        console.warn('cintel: the suggested response could not be used', error),
      );
    },
    [suggestionActions, fetchImpl, backendUrl, sessionId, getToken, task, results],
  );
  const use = suggestionActions
    ? { label: viaFor(task) === 'input' ? 'Put in message box' : 'Copy', onUse }
    : null;
  return (
    <AgentAssistPanel
      state={model.state}
      connection={model.connection}
      script={model.script}
      scriptError={model.scriptError}
      onOperatorLogViewed={model.markOperatorLogViewed}
      onDispute={model.dispute}
      onCoachingDismissed={model.dismissCoaching}
      useSuggestion={use}
      initialTab={initialTab}
    />
  );
}
