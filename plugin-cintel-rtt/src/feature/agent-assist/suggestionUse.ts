/**
 * The "use" action of a suggested response: put its text in Flex's message box (chat or SMS task) or copy it
 * (voice), then tell the relay, which counts uses per operator version (`cintel_suggestion_uses`).
 *
 * Pure and injected: the plugin entry supplies how to set the message box (Flex's `SetInputText` action) and
 * the clipboard; this module only decides which, and reports the use.
 */
import type { OperatorResult, Suggestion } from './types';
import type { TaskLike } from './session';
import type { FetchLike } from './stream/StreamClient';
import { requestTicket } from './stream/ticket';

export type UseVia = 'input' | 'copy';

/** How a suggested response is put to use, given by the plugin entry (the only module that touches Flex). */
export interface SuggestionActions {
  /** Put text into the task's message box (Flex `SetInputText`). */
  setInputText: (task: TaskLike, text: string) => Promise<void>;
  /** Copy text to the clipboard. */
  copy: (text: string) => Promise<void>;
}

/** A voice task's suggestion is copied (there is no message box); any other channel's goes to the input. */
export function viaFor(task: TaskLike | null | undefined): UseVia {
  return (task?.taskChannelUniqueName ?? 'voice').toLowerCase() === 'voice' ? 'copy' : 'input';
}

/** The operator and version that produced a suggestion, from the operator result it names. */
export function suggestionOperator(
  suggestion: Suggestion,
  results: OperatorResult[],
): { operatorId: string; version: number } | null {
  const result = results.find((r) => r.id === (suggestion.operatorResultId ?? suggestion.id));
  const operatorId = result?.operator?.id;
  const version = result?.operator?.version;
  return operatorId && typeof version === 'number' ? { operatorId, version } : null;
}

export interface UseReport {
  fetch: FetchLike;
  backendUrl: string;
  sessionId: string;
  token: string | undefined;
}

/** Use the suggestion, then report the use (a failed report is logged, never shown: the text was used). */
export async function applySuggestion(
  suggestion: Suggestion,
  task: TaskLike | null | undefined,
  results: OperatorResult[],
  actions: SuggestionActions,
  report: UseReport,
): Promise<UseVia> {
  const via = viaFor(task);
  if (via === 'input' && task) await actions.setInputText(task, suggestion.text);
  else await actions.copy(suggestion.text);
  const operator = suggestionOperator(suggestion, results);
  if (!operator) return via;
  try {
    const ticket = await requestTicket({ ...report });
    const query = ticket ? `?ticket=${encodeURIComponent(ticket)}` : '';
    const path = `/api/calls/${encodeURIComponent(report.sessionId)}/suggestion-uses${query}`;
    await report.fetch(`${report.backendUrl}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ ...operator, via }),
    });
  } catch (error) {
    console.warn('cintel: could not count a suggested-response use', error);
  }
  return via;
}
