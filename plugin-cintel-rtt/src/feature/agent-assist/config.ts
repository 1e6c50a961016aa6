/**
 * Typed configuration of the agent-assist feature.
 *
 * The relay URL comes from the Flex UI attributes (`cintel_rtt.backend_url`, changeable without a
 * redeploy) or, failing that, from `REACT_APP_BACKEND_URL` baked in at build time from `.env`.
 */

export const BACKEND_URL_VARIABLE = 'REACT_APP_BACKEND_URL';
export const BACKEND_URL_ATTRIBUTE = 'cintel_rtt.backend_url';

export interface AgentAssistConfig {
  /** Base URL of the cintel-relay, without a trailing slash. */
  backendUrl: string;
}

export interface ConfigSources {
  /** Build-time environment (process.env as seen by the bundler). */
  env?: Record<string, string | undefined>;
  /** Flex UI attributes (`manager.serviceConfiguration.ui_attributes`). */
  uiAttributes?: unknown;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function attributeBackendUrl(uiAttributes: unknown): string | undefined {
  if (typeof uiAttributes !== 'object' || uiAttributes === null) return undefined;
  const section = (uiAttributes as Record<string, unknown>).cintel_rtt;
  if (typeof section !== 'object' || section === null) return undefined;
  const value = (section as Record<string, unknown>).backend_url;
  return typeof value === 'string' ? value : undefined;
}

/** Normalize and validate a relay base URL; throws ConfigError naming the source on bad input. */
export function normalizeBackendUrl(raw: string, source: string): string {
  const trimmed = raw.trim().replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/i.test(trimmed)) {
    throw new ConfigError(
      `${source} must be an absolute http(s) URL of the cintel-relay, got "${raw}". ` +
        'Example: https://cintel-relay.example.com',
    );
  }
  return trimmed;
}

/** Read the feature's configuration; throws ConfigError with the fix when the relay URL is unset. */
export function loadConfig({ env = {}, uiAttributes }: ConfigSources): AgentAssistConfig {
  const fromAttributes = attributeBackendUrl(uiAttributes);
  if (fromAttributes && fromAttributes.trim()) {
    return { backendUrl: normalizeBackendUrl(fromAttributes, `Flex UI attribute ${BACKEND_URL_ATTRIBUTE}`) };
  }
  const fromEnv = env[BACKEND_URL_VARIABLE];
  if (fromEnv && fromEnv.trim()) {
    return { backendUrl: normalizeBackendUrl(fromEnv, BACKEND_URL_VARIABLE) };
  }
  throw new ConfigError(
    `The cintel-relay URL is not configured. Set ${BACKEND_URL_VARIABLE} in plugin-cintel-rtt/.env ` +
      `and rebuild, or set the Flex UI attribute ${BACKEND_URL_ATTRIBUTE}.`,
  );
}
