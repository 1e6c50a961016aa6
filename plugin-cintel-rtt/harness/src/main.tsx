/**
 * Harness: the agent-assist panel outside Flex, for end-to-end tests and local demos.
 *
 * Query parameters: `backend` (relay base URL, required), `session` (Call SID, required),
 * `token` (sent as the Flex token when asking for a stream ticket), `tab` (initial tab).
 */
import React from 'react';
import ReactDOM from 'react-dom';
import { Alert } from '@twilio-paste/core/alert';
import { Box } from '@twilio-paste/core/box';
import { Text } from '@twilio-paste/core/text';
import { Theme } from '@twilio-paste/core/theme';

import { AgentAssist, ConfigError, loadConfig } from '../../src/feature/agent-assist';
import type { PanelTab } from '../../src/feature/agent-assist/components/AgentAssistPanel';

const TABS: PanelTab[] = ['transcript', 'agent-view', 'insights', 'operator-log'];

function Harness({ params }: { params: URLSearchParams }): JSX.Element {
  const session = params.get('session');
  let backendUrl: string;
  try {
    backendUrl = loadConfig({
      env: { REACT_APP_BACKEND_URL: params.get('backend') ?? undefined },
    }).backendUrl;
  } catch (error) {
    const message = error instanceof ConfigError ? error.message : String(error);
    return <Problem message={`${message} (harness: pass ?backend=<relay URL>)`} />;
  }
  if (!session) return <Problem message="Pass ?session=<Call SID> to choose the call to follow." />;
  const token = params.get('token') ?? undefined;
  const tab = TABS.find((candidate) => candidate === params.get('tab'));
  return (
    <Box maxWidth="size80" marginX="auto" marginY="space60">
      <AgentAssist backendUrl={backendUrl} sessionId={session} getToken={() => token} initialTab={tab} />
    </Box>
  );
}

function Problem({ message }: { message: string }): JSX.Element {
  return (
    <Box padding="space60">
      <Alert variant="error">
        <Text as="span">{message}</Text>
      </Alert>
    </Box>
  );
}

ReactDOM.render(
  <Theme.Provider theme="default">
    <Harness params={new URLSearchParams(window.location.search)} />
  </Theme.Provider>,
  document.getElementById('root'),
);
