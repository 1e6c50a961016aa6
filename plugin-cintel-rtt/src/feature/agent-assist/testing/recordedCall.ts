/**
 * A short call as the relay streams it: the frames of a fresh connect followed by live events.
 * Used by the component tests; ids and payload shapes follow the relay's SSE contract.
 */
import type { Script } from '../types';

export const SESSION_ID = 'CA5d2f0c8e1b7a4f3e9d6c5b4a3f2e1d0c';

export const SCRIPT: Script = {
  name: 'Moving company intake',
  categories: [
    { key: 'greeting', label: 'Greeting', description: 'Greet and introduce yourself.', weight: 10 },
    { key: 'verification', label: 'Verification', description: 'Verify name and address.', weight: 20 },
    { key: 'move_details', label: 'Move Details', description: 'Date, origin, destination.', weight: 40 },
    { key: 'confirmation', label: 'Confirmation', description: 'Read back and confirm.', weight: 30 },
  ],
};

const SENTIMENT_OPERATOR = {
  id: 'intelligence_operator_01kcrvw16kfa88qvgrfmr7y151',
  friendlyName: 'Sentiment',
  version: 1,
  parameters: {},
};

const ADHERENCE_OPERATOR = {
  id: 'intelligence_operator_01kf34tcyefpyb1t4m0nbd8rxg',
  friendlyName: 'Script Adherence',
  version: 3,
  parameters: {},
};

function executionDetails(on: string, timestamp: string) {
  return {
    trigger: { on, timestamp },
    communications: { first: 'GC0001', last: 'GC0002' },
    channels: ['VOICE'],
    participants: [],
  };
}

/** [frame, SSE id] pairs, in stream order. */
export const FRESH_CONNECT: Array<[unknown, string | undefined]> = [
  [{ type: 'connected', sessionId: SESSION_ID }, undefined],
  [
    {
      type: 'initial',
      transcript: [],
      operatorResults: [],
      adherence: null,
      sentiment: null,
      summary: null,
      callStatus: { status: 'in-progress', timestamp: '2026-11-25T14:00:00Z' },
    },
    undefined,
  ],
];

export const LIVE_EVENTS: Array<[unknown, string | undefined]> = [
  [
    {
      type: 'transcript',
      data: {
        id: 'GC0001',
        timestamp: '2026-11-25T14:00:02Z',
        speaker: 'agent',
        text: 'Thanks for calling Swift Movers, this is Dana. How can I help?',
      },
    },
    '1764079202000-0',
  ],
  [
    {
      type: 'transcript',
      data: {
        id: 'GC0002',
        timestamp: '2026-11-25T14:00:07Z',
        speaker: 'customer',
        text: 'Hi, I need to move a two-bedroom apartment next month.',
      },
    },
    '1764079207000-0',
  ],
  [
    {
      type: 'operator-result',
      data: {
        id: 'OR0001',
        timestamp: '2026-11-25T14:00:09Z',
        conversationId: 'conv_0001',
        operator: SENTIMENT_OPERATOR,
        outputFormat: 'CLASSIFICATION',
        result: { label: 'positive' },
        referenceIds: ['GC0002'],
        executionDetails: executionDetails('COMMUNICATION', '2026-11-25T14:00:08Z'),
      },
    },
    '1764079209000-0',
  ],
  [
    {
      type: 'sentiment',
      data: { label: 'positive', timestamp: '2026-11-25T14:00:09Z', operatorResultId: 'OR0001' },
    },
    '1764079209000-1',
  ],
  [
    {
      type: 'operator-result',
      data: {
        id: 'OR0002',
        timestamp: '2026-11-25T14:00:10Z',
        conversationId: 'conv_0001',
        operator: ADHERENCE_OPERATOR,
        outputFormat: 'JSON',
        result: {
          categories: [
            { category_key: 'greeting', criteria: [{ criteria_key: 'intro', criteria_met: 'Succeeded' }] },
          ],
          explanation: 'The agent greeted the customer and gave their name.',
        },
        referenceIds: ['GC0001'],
        executionDetails: executionDetails('COMMUNICATION', '2026-11-25T14:00:09Z'),
      },
    },
    '1764079210000-0',
  ],
  [
    {
      type: 'adherence',
      data: {
        categories: [
          { key: 'greeting', label: 'Greeting', weight: 10, status: 'met' },
          { key: 'verification', label: 'Verification', weight: 20, status: 'pending' },
          { key: 'move_details', label: 'Move Details', weight: 40, status: 'pending' },
          { key: 'confirmation', label: 'Confirmation', weight: 30, status: 'pending' },
        ],
        score: 10,
        explanation: 'The agent greeted the customer and gave their name.',
        timestamp: '2026-11-25T14:00:10Z',
        operatorResultId: 'OR0002',
      },
    },
    '1764079210000-1',
  ],
  [
    {
      type: 'summary',
      data: {
        text: 'Customer wants to move a two-bedroom apartment next month.',
        timestamp: '2026-11-25T14:00:11Z',
        operatorResultId: 'OR0003',
      },
    },
    '1764079211000-0',
  ],
];
