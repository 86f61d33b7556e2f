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

await build({
  entryPoints: [join(root, 'src', 'cli', 'main.ts')],
  outfile: out,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
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
