/**
 * Agent assist feature: live transcript, script checklist and operator log for a call.
 *
 * Everything here is plain React and plain TypeScript; the plugin entry (CintelRttPlugin.tsx) is the
 * only place that touches Flex, and it mounts `TaskAgentAssist` for agents and supervisors.
 */
export { AgentAssist } from './components/AgentAssist';
export type { AgentAssistProps } from './components/AgentAssist';
export { AgentAssistPanel } from './components/AgentAssistPanel';
export { TaskAgentAssist } from './components/TaskAgentAssist';
export type { TaskAgentAssistProps } from './components/TaskAgentAssist';
export { ConfigError, loadConfig } from './config';
export type { AgentAssistConfig } from './config';
export { sessionForTask } from './session';
export type { SuggestionActions } from './suggestionUse';
export type { TaskLike } from './session';

/** Names the plugin entry registers the feature's Flex content under. */
export const FEATURE_NAME = 'cintel-agent-assist';
export const TAB_LABEL = 'Live assist';
