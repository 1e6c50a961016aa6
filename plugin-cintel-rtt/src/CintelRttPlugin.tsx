/** The Flex plugin entry: the only module that touches Flex. It mounts the agent-assist feature. */
import React from 'react';
import * as Flex from '@twilio/flex-ui';
import { FlexPlugin } from '@twilio/flex-plugin';
import { CustomizationProvider } from '@twilio-paste/core/customization';

import { ConfigError, FEATURE_NAME, loadConfig, TAB_LABEL, TaskAgentAssist } from './feature/agent-assist';
import type { SuggestionActions, TaskAgentAssistProps } from './feature/agent-assist';

const PLUGIN_NAME = 'CintelRttPlugin';

function resolveBackend(manager: Flex.Manager): TaskAgentAssistProps['backend'] {
  try {
    const config = loadConfig({
      env: { REACT_APP_BACKEND_URL: process.env.REACT_APP_BACKEND_URL },
      uiAttributes: manager.serviceConfiguration?.ui_attributes,
    });
    return { url: config.backendUrl };
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`${PLUGIN_NAME}: ${error.message}`);
      return { error: error.message };
    }
    throw error;
  }
}

/** A suggested response goes into a chat or SMS task's message box (Flex's SetInputText), or to the clipboard. */
const suggestionActions = (flex: typeof Flex): SuggestionActions => ({
  setInputText: async (task, text) => {
    const attributes = task.attributes ?? {};
    const conversationSid =
      attributes.conversationSid ?? attributes.conversation_sid ?? attributes.channelSid;
    await flex.Actions.invokeAction('SetInputText', {
      body: text,
      conversationSid,
      selectionStart: text.length,
    });
  },
  copy: (text) => navigator.clipboard.writeText(text),
});

export default class CintelRttPlugin extends FlexPlugin {
  constructor() {
    super(PLUGIN_NAME);
  }

  /** Agents get the panel in the CRM container; supervisors get it as a tab of a monitored task. */
  async init(flex: typeof Flex, manager: Flex.Manager): Promise<void> {
    flex.setProviders({ PasteThemeProvider: CustomizationProvider });

    const backend = resolveBackend(manager);
    // Flex refreshes the token in place, so read it at each ticket request.
    const getToken = (): string | undefined => manager.user?.token;
    const actions = suggestionActions(flex);

    const TaskPanel = flex.withTaskContext(({ task }: { task?: Flex.ITask }) => (
      <TaskAgentAssist task={task} backend={backend} getToken={getToken} suggestionActions={actions} />
    ));

    flex.CRMContainer.Content.remove('placeholder');
    flex.CRMContainer.Content.add(<TaskPanel key={`${FEATURE_NAME}-agent`} />, { sortOrder: -1 });

    flex.Supervisor.TaskCanvasTabs.Content.add(
      <flex.Tab key={`${FEATURE_NAME}-supervisor`} uniqueName={FEATURE_NAME} label={TAB_LABEL}>
        <TaskPanel />
      </flex.Tab>,
    );
  }
}
