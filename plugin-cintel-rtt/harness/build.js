/**
 * Build the harness page into harness/dist/: index.html and one bundle, no Flex involved.
 * Usage: npm run harness:build  (then serve harness/dist/ with any static file server)
 */
const fs = require('fs');
const path = require('path');
const esbuild = require('esbuild');

const root = __dirname;
const outdir = path.join(root, 'dist');

async function main() {
  fs.rmSync(outdir, { recursive: true, force: true });
  fs.mkdirSync(outdir, { recursive: true });
  const result = await esbuild.build({
    entryPoints: [path.join(root, 'src', 'main.tsx')],
    bundle: true,
    minify: true,
    sourcemap: true,
    format: 'iife',
    target: ['es2017'],
    outfile: path.join(outdir, 'harness.js'),
    define: { 'process.env.NODE_ENV': '"production"' },
    tsconfig: path.join(root, '..', 'tsconfig.json'),
    logLevel: 'warning',
    metafile: true,
  });
  fs.copyFileSync(path.join(root, 'index.html'), path.join(outdir, 'index.html'));
  const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
  console.log(
    `harness built into ${path.relative(process.cwd(), outdir) || '.'} (${Math.round(bytes / 1024)} KiB)`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
