/**
 * The console ships a built copy of this client (cintel_relay/console/static/stream.js): it must be what a
 * fresh build of today's source makes. If this fails, run `npm run console:build` and commit the result.
 * @jest-environment node
 */
import fs from 'fs';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- the build script is plain Node (CommonJS)
const build = require('../../../../console/build.js') as { bundle(): Promise<string>; output: string };

describe("the console's stream client", () => {
  it('is a fresh build of the plugin client', async () => {
    expect(fs.readFileSync(build.output, 'utf-8')).toBe(await build.bundle());
  });
});
