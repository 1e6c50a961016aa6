/** `GET /api/script`: the adherence script that the checklist is built from. */
import type { Adherence, CategoryStatus, Script, ScriptCategory } from './types';
import type { FetchLike } from './stream/StreamClient';

function isCategory(value: unknown): value is ScriptCategory {
  if (typeof value !== 'object' || value === null) return false;
  const category = value as Record<string, unknown>;
  return (
    typeof category.key === 'string' &&
    typeof category.label === 'string' &&
    typeof category.weight === 'number'
  );
}

/** Fetch and validate the relay's script; rejects with a message fit for the agent. */
export async function fetchScript(
  fetchImpl: FetchLike,
  backendUrl: string,
  signal?: AbortSignal,
): Promise<Script> {
  const response = await fetchImpl(`${backendUrl}/api/script`, { signal });
  if (!response.ok) throw new Error(`The relay answered ${response.status} for the script.`);
  const body = (await response.json()) as Partial<Script>;
  if (!Array.isArray(body.categories) || !body.categories.every(isCategory)) {
    throw new Error('The relay sent a script without valid categories.');
  }
  return { name: typeof body.name === 'string' ? body.name : 'Script', categories: body.categories };
}

export interface ChecklistItem {
  key: string;
  label: string;
  description?: string;
  weight: number;
  status: CategoryStatus;
}

/**
 * Merge the script with the latest adherence state.
 *
 * The script gives order, labels and descriptions; adherence gives the status. Categories only the
 * adherence knows (the script changed on the relay) are appended, and without a script the
 * checklist is built from adherence alone.
 */
export function buildChecklist(script: Script | null, adherence: Adherence | null): ChecklistItem[] {
  const statusByKey = new Map((adherence?.categories ?? []).map((category) => [category.key, category]));
  const items: ChecklistItem[] = (script?.categories ?? []).map((category) => ({
    key: category.key,
    label: category.label,
    description: category.description,
    weight: category.weight,
    status: statusByKey.get(category.key)?.status ?? 'pending',
  }));
  const scripted = new Set(items.map((item) => item.key));
  for (const category of adherence?.categories ?? []) {
    if (!scripted.has(category.key)) {
      items.push({
        key: category.key,
        label: category.label,
        weight: category.weight,
        status: category.status,
      });
    }
  }
  return items;
}
