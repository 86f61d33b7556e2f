#!/usr/bin/env node
// Bundles the `jail` command into one file (dist/jail-cli.js) and warms its V8 code cache
// (dist/jail-cli.cache). Loading ~55 CommonJS modules and compiling them on every start cost
// more than the 15 ms budget over `node -e 0` (issue 2); one file compiled from a code cache
// costs a third of that (see bench/run.mjs). bin/jail falls back to dist/cli/main.js when the
// bundle is missing.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'jail-cli.js');

// commander requires child_process at load time for executable subcommands, which jail does not
// have; Node compiles that built-in on first use, which costs ~10 ms of every start. Hand
// commander a stand-in that loads it only if it is ever touched.
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      args.importer.includes(`${'node_modules'}/commander/`) ? { path: 'lazy-child-process', namespace: 'jail-lazy' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'jail-lazy' }, () => ({
      contents: "module.exports = new Proxy({}, { get: (_, key) => require('node:child_process')[key] });",
      loader: 'js',
    }));
  },
};

await build({
  entryPoints: [join(root, 'src', 'cli', 'main.ts')],
  outfile: out,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  // Smaller to read and compile on every start; identifiers stay, so stack traces stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
  plugins: [lazyChildProcess],
});
rmSync(out.replace(/\.js$/, '.cache'), { force: true });

// One representative command writes the cache (bin/jail saves it when it finds none). It plans
// a jail without launching one, so it needs no privileges; if it fails the first real run
// writes the cache instead.
const warm = spawnSync(process.execPath, [join(root, 'bin', 'jail'), 'plan', '-Q', '--chroot', '/', '--', '/bin/true'], {
  stdio: 'ignore',
  timeout: 30_000,
});
if (warm.status !== 0) console.warn(`build-cli: warming the code cache failed (${warm.status ?? warm.signal}); the first run will write it`);
