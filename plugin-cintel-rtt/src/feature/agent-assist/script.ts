/** `GET /api/script`: the adherence script that the checklist is built from. */
import type { Adherence, AdherenceCategory, CategoryStatus, Dispute, Script, ScriptCategory } from './types';
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

export interface ChecklistItem extends Pick<
  AdherenceCategory,
  'evidence' | 'metAt' | 'metAfterSeconds' | 'withinSeconds' | 'due' | 'dispute'
> {
  key: string;
  label: string;
  description?: string;
  weight: number;
  status: CategoryStatus;
}

/** The relay's audit trail of a category, as the checklist shows it. */
function audit(category: AdherenceCategory | undefined): Partial<ChecklistItem> {
  if (!category) return {};
  const { evidence, metAt, metAfterSeconds, withinSeconds, due, dispute } = category;
  return { evidence, metAt, metAfterSeconds, withinSeconds, due, dispute };
}

/**
 * Merge the script with the latest adherence state.
 *
 * The script gives order, labels and descriptions; adherence gives the status and the relay's audit trail
 * (evidence, when the step was done, its deadline, overdue, dispute), which the panel only renders. Categories only the
 * adherence knows (the script changed on the relay) are appended, and without a script the
 * checklist is built from adherence alone.
 */
export function buildChecklist(
  script: Script | null,
  adherence: Adherence | null,
  disputes: Record<string, Dispute> = {},
): ChecklistItem[] {
  const statusByKey = new Map((adherence?.categories ?? []).map((category) => [category.key, category]));
  const items: ChecklistItem[] = (script?.categories ?? []).map((category) => ({
    key: category.key,
    label: category.label,
    description: category.description,
    weight: category.weight,
    withinSeconds: category.withinSeconds,
    ...audit(statusByKey.get(category.key)),
    status: statusByKey.get(category.key)?.status ?? 'pending',
  }));
  const scripted = new Set(items.map((item) => item.key));
  for (const category of adherence?.categories ?? []) {
    if (!scripted.has(category.key)) {
      items.push({
        key: category.key,
        label: category.label,
        weight: category.weight,
        ...audit(category),
        status: category.status,
      });
    }
  }
  // A dispute frame may come before the adherence state that carries it.
  return items.map((item) =>
    item.dispute || !disputes[item.key] ? item : { ...item, dispute: disputes[item.key] },
  );
}
