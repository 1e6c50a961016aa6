/** Capped exponential backoff with jitter, as a pure function. */

export interface BackoffPolicy {
  /** Delay before the first retry, in ms. */
  initialMs: number;
  /** Upper bound of any delay, in ms. */
  maxMs: number;
  /** Growth per consecutive failure. */
  factor: number;
  /** Share of the delay that is randomized (0: none, 1: anywhere between 0 and the delay). */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 30000, factor: 2, jitter: 0.5 };

/**
 * Delay before retry number `attempt` (1-based).
 *
 * Jitter only shortens the delay, so the cap holds, and agents that lost the relay at the same
 * moment do not come back in lockstep.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number): number {
  const exponent = Math.max(0, attempt - 1);
  const base = Math.min(policy.maxMs, policy.initialMs * Math.pow(policy.factor, exponent));
  const jitter = Math.min(1, Math.max(0, policy.jitter));
  return Math.round(base * (1 - jitter * random()));
}
