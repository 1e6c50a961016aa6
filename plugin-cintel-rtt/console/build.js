/**
 * Build the live console's stream client, cintel_relay/console/static/stream.js, from the plugin's own
 * (src/feature/agent-assist/stream/console.ts): the console and the plugin share one client, so the Python
 * package ships the built file and needs no Node. It is the minified production bundle browsers load (generated:
 * eslint.console.config.js ignores it, and prettier checks only this folder). A jest test (console.test.ts beside
 * the entry) fails when the committed file differs from a fresh build, which esbuild makes byte for byte the same.
 * Usage: npm run console:build
 */
const fs = require('fs');
const path = require('path');
const esbuild = require('esbuild');

const root = path.resolve(__dirname, '..');
const entry = path.join(root, 'src', 'feature', 'agent-assist', 'stream', 'console.ts');
const output = path.resolve(root, '..', 'cintel_relay', 'console', 'static', 'stream.js');
const banner =
  "/* The live console's stream client: built from plugin-cintel-rtt/src/feature/agent-assist/stream/ by\n" +
  "   `npm --prefix plugin-cintel-rtt run console:build`. Do not edit: change the plugin's client and build. */";

/** The bundle's text, as a fresh build makes it. */
async function bundle() {
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    minify: true,
    format: 'iife',
    target: ['es2017'],
    charset: 'utf8',
    legalComments: 'none',
    banner: { js: banner },
    tsconfig: path.join(root, 'tsconfig.json'),
    logLevel: 'warning',
  });
  return result.outputFiles[0].text;
}

module.exports = { bundle, output };

if (require.main === module) {
  bundle()
    .then((text) => {
      fs.writeFileSync(output, text);
      console.log(
        `console stream client built into ${path.relative(process.cwd(), output)} (${text.length} bytes)`,
      );
    })
    .catch((error) => {
      console.error(error);
      process.exit(1);
    });
}
