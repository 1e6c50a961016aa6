import React from 'react';
import { Alert } from '@twilio-paste/core/alert';
import { Box } from '@twilio-paste/core/box';
import { Text } from '@twilio-paste/core/text';

import { sessionForTask, TaskLike } from '../session';
import type { SuggestionActions } from '../suggestionUse';
import { AgentAssist } from './AgentAssist';

export interface TaskAgentAssistProps {
  /** The task in view (the agent's selected task, or the one a supervisor monitors). */
  task?: TaskLike | null;
  /** The relay URL, or the configuration error to show instead of the panel. */
  backend: { url: string } | { error: string };
  getToken: () => string | undefined;
  /** How a suggested response is used in Flex (SetInputText, the clipboard); none: no "use" button. */
  suggestionActions?: SuggestionActions;
}

/** Resolve the task to a relay session and show its live panel, or say why there is none. */
export function TaskAgentAssist({
  task,
  backend,
  getToken,
  suggestionActions,
}: TaskAgentAssistProps): JSX.Element {
  if ('error' in backend) {
    return (
      <Box padding="space40">
        <Alert variant="error">
          <Text as="span">{backend.error}</Text>
        </Alert>
      </Box>
    );
  }
  const target = sessionForTask(task);
  if (target.kind === 'unavailable') {
    return (
      <Box padding="space40">
        <Text as="p" color="colorTextWeak">
          {target.reason}
        </Text>
      </Box>
    );
  }
  // Keyed by session so a different task gets a fresh stream and state, never a mix of both.
  return (
    <AgentAssist
      key={target.sessionId}
      backendUrl={backend.url}
      sessionId={target.sessionId}
      getToken={getToken}
      task={task}
      suggestionActions={suggestionActions}
    />
  );
}
