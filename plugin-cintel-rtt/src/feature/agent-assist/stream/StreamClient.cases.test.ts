/**
 * The stream client against the cases it shares with the console's client (tests/contract/), played by
 * the same runner that tests/test_console.py runs in Chromium against cintel_relay/console/static/stream.js.
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

// A plain script shared with the browser test, so it is required rather than imported.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a runtime path outside src, shared with Chromium
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
