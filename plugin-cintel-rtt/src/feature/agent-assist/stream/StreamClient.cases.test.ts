/**
 * The stream client against its cases (tests/contract/stream-client-cases.json), played by a runner that
 * drives fake EventSource, fetch and timers. The console runs this same client (console.test.ts).
 */
import fs from 'fs';
import path from 'path';

import { StreamClient, StreamClientOptions } from './StreamClient';

const CONTRACT = path.resolve(__dirname, '../../../../../tests/contract');

interface StreamCase {
  name: string;
  expect: unknown[];
}

interface Runner {
  run(testCase: StreamCase, createClient: (options: StreamClientOptions) => StreamClient): Promise<unknown[]>;
}

// A plain script outside src, so it is required rather than imported.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a runtime path outside src
const runner = require(path.join(CONTRACT, 'stream-client-runner.js')) as Runner;
const { cases } = JSON.parse(fs.readFileSync(path.join(CONTRACT, 'stream-client-cases.json'), 'utf-8')) as {
  cases: StreamCase[];
};

describe('StreamClient, on the cases shared with the console', () => {
  beforeEach(() => {
    jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  it.each(cases.map((testCase) => [testCase.name, testCase] as const))('%s', async (_name, testCase) => {
    expect(await runner.run(testCase, (options) => new StreamClient(options))).toEqual(testCase.expect);
  });
});
