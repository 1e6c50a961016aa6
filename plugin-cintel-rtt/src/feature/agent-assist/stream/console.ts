/**
 * The live console's stream client is this plugin's own: `console/build.js` bundles this entry into
 * cintel_relay/console/static/stream.js, which exposes it as `window.CintelStream`.
 */
import { backoffDelay } from './backoff';
import { StreamClient } from './StreamClient';
import { requestTicket } from './ticket';

(globalThis as unknown as { CintelStream: unknown }).CintelStream = {
  StreamClient,
  requestTicket,
  backoffDelay,
};
