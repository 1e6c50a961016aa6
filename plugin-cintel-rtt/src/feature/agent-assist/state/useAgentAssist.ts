/** React hook: one StreamClient and the script for a session, reduced into panel state. */
import { useCallback, useEffect, useReducer, useRef, useState } from 'react';

import { fetchScript } from '../script';
import { openDispute } from '../stream/dispute';
import { ConnectionStatus, EventSourceFactory, FetchLike, StreamClient } from '../stream/StreamClient';
import type { Script } from '../types';
import { initialPanelState, panelReducer, PanelState } from './reducer';

export interface AgentAssistSource {
  backendUrl: string;
  sessionId: string;
  getToken: () => string | undefined;
  fetch?: FetchLike;
  createEventSource?: EventSourceFactory;
}

export interface AgentAssistModel {
  state: PanelState;
  connection: ConnectionStatus;
  script: Script | null;
  scriptError: string | null;
  markOperatorLogViewed: () => void;
  /** Open a dispute on a script category ("I did this"); rejects with the relay's reason. */
  dispute: (category: string, note?: string) => Promise<void>;
  dismissCoaching: (id: string) => void;
}

export function useAgentAssist(source: AgentAssistSource): AgentAssistModel {
  const { backendUrl, sessionId } = source;
  const [state, dispatch] = useReducer(panelReducer, initialPanelState);
  const [connection, setConnection] = useState<ConnectionStatus>({ state: 'connecting' });
  const [script, setScript] = useState<Script | null>(null);
  const [scriptError, setScriptError] = useState<string | null>(null);

  // The token getter and injected I/O may be new functions on every render; only the session and
  // relay decide when to reconnect.
  const sourceRef = useRef(source);
  sourceRef.current = source;

  useEffect(() => {
    dispatch({ type: 'local/reset' });
    const current = sourceRef.current;
    const client = new StreamClient({
      backendUrl,
      sessionId,
      getToken: () => sourceRef.current.getToken(),
      fetch: current.fetch,
      createEventSource: current.createEventSource,
      onFrame: (frame) => dispatch(frame),
      onStatus: setConnection,
    });
    client.start();
    return () => client.stop();
  }, [backendUrl, sessionId]);

  const live = connection.state === 'live';
  const haveScript = script !== null;
  useEffect(() => {
    // Load once the relay is reachable, so a relay that was down at first still gets asked later.
    if (haveScript || !live) return undefined;
    const abort = typeof AbortController === 'undefined' ? null : new AbortController();
    const fetchImpl = sourceRef.current.fetch ?? ((input, init) => globalThis.fetch(input, init));
    fetchScript(fetchImpl, backendUrl, abort?.signal).then(
      (loaded) => {
        if (abort?.signal.aborted) return;
        setScript(loaded);
        setScriptError(null);
      },
      (error: unknown) => {
        if (abort?.signal.aborted) return;
        setScriptError(error instanceof Error ? error.message : 'The script could not be loaded.');
      },
    );
    return () => abort?.abort();
  }, [backendUrl, live, haveScript]);

  const markOperatorLogViewed = useCallback(() => dispatch({ type: 'local/operator-log-viewed' }), []);

  const dispute = useCallback(
    (category: string, note?: string) => {
      const current = sourceRef.current;
      return openDispute({
        fetch: current.fetch ?? ((input, init) => globalThis.fetch(input, init)),
        backendUrl,
        sessionId,
        token: current.getToken(),
        category,
        note,
      });
    },
    [backendUrl, sessionId],
  );

  const dismissCoaching = useCallback((id: string) => dispatch({ type: 'local/coaching-dismissed', id }), []);

  return { state, connection, script, scriptError, markOperatorLogViewed, dispute, dismissCoaching };
}
