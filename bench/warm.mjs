#!/usr/bin/env node
// The warm path (issue 13) against the cold CLI, in one run: medians of
//   - `/usr/bin/python3 -c pass` bare, and `node -e 0` (the floor of any cold Node CLI)
//   - `jail --version` cold, and through build/Release/jail_client with a `jail warm` server
//   - `jail -Q --chroot / -- /bin/true` cold and warm
//   - the playground line, `jail -Q --config examples/python-playground.cfg -- python3 -c pass`,
//     cold and warm, and the same file without its `net:` line (pasta's start-up is the
//     largest cost left in it)
//   - nsjail on the same lines when NSJAIL=/path/to/nsjail is set (it is not packaged)
// and the ratios. The server is started here on a private socket and stopped at the end.
//
// Usage: npm run build && [NSJAIL=/path/to/nsjail] node bench/warm.mjs [--runs N]   (root, or user namespaces enabled)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argRuns = process.argv.indexOf('--runs');
const RUNS = argRuns > 0 ? Number(process.argv[argRuns + 1]) : 40;
const client = join(root, 'build', 'Release', 'jail_client');
const jail = join(root, 'bin', 'jail');
if (!existsSync(client)) {
  console.error(`bench/warm.mjs: ${client} is missing; run npm run build:native`);
  process.exit(1);
}

const tmp = mkdtempSync(join(tmpdir(), 'jail-bench-warm-'));
const socket = join(tmp, 'run', 'warm.sock');
const env = { ...process.env, JAIL_WARM_SOCKET: socket };
const noNet = join(tmp, 'playground-no-net.cfg');
writeFileSync(noNet, readFileSync(join(root, 'examples/python-playground.cfg'), 'utf8').replace(/^net:.*$/m, ''));

const median = (samples) => [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)];
const fmt = (ms) => `${ms.toFixed(2)} ms`;

function timeCommand(argv, extraEnv = {}) {
  const samples = [];
  for (let i = 0; i < RUNS + 3; i++) {
    const t = process.hrtime.bigint();
    const r = spawnSync(argv[0], argv.slice(1), { stdio: 'ignore', env: { ...env, ...extraEnv }, cwd: root });
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    if (r.status !== 0) return { error: `exit ${r.status ?? r.signal}` };
    if (i >= 3) samples.push(ms); // the first runs warm the page cache (and the server)
  }
  return { median: median(samples) };
}

const server = spawn(process.execPath, [jail, 'warm', '-q', '--socket', socket], { env, stdio: 'inherit' });
for (let i = 0; i < 200 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 25));

const playground = (cfg) => ['-Q', '--config', cfg, '--', 'python3', '-c', 'pass'];
const cold = [process.execPath, jail];
const results = {};
const add = (name, result) => (results[name] = result);
add('python3 -c pass (bare)', timeCommand(['/usr/bin/python3', '-c', 'pass']));
add('node -e 0', timeCommand([process.execPath, '-e', '0']));
add('jail --version, cold', timeCommand([...cold, '--version']));
add('jail --version, warm', timeCommand([client, '--version']));
add('/bin/true --chroot /, cold', timeCommand([...cold, '-Q', '--chroot', '/', '--', '/bin/true']));
add('/bin/true --chroot /, warm', timeCommand([client, '-Q', '--chroot', '/', '--', '/bin/true']));
add('playground line, cold', timeCommand([...cold, ...playground(join(root, 'examples/python-playground.cfg'))]));
add('playground line, warm', timeCommand([client, ...playground(join(root, 'examples/python-playground.cfg'))]));
add('playground without net, cold', timeCommand([...cold, ...playground(noNet)]));
add('playground without net, warm', timeCommand([client, ...playground(noNet)]));
if (process.env.NSJAIL) {
  add('/bin/true --chroot /, nsjail', timeCommand([process.env.NSJAIL, '-Q', '--chroot', '/', '--', '/bin/true']));
  add('playground line, nsjail', timeCommand([process.env.NSJAIL, ...playground(join(root, 'examples/python-playground.cfg')).map((a) => (a === 'python3' ? '/usr/bin/python3' : a))]));
}
server.kill('SIGTERM');
await new Promise((r) => server.once('exit', r));
rmSync(tmp, { recursive: true, force: true });

console.log(`jail warm path benchmark (${RUNS} runs per command; ${process.platform} ${process.arch}, node ${process.version})`);
for (const [name, r] of Object.entries(results)) console.log(`  ${name.padEnd(34)} ${r.error ?? fmt(r.median)}`);
const m = (name) => results[name]?.median;
const ratio = (a, b, what) => {
  if (m(a) && m(b)) console.log(`  ${what.padEnd(34)} ${(m(a) / m(b)).toFixed(2)}x`);
};
console.log('ratios:');
ratio('playground line, cold', 'playground line, warm', 'playground: cold / warm');
ratio('playground line, warm', 'python3 -c pass (bare)', 'playground warm / python3 bare');
ratio('playground without net, warm', 'python3 -c pass (bare)', 'playground no-net warm / bare');
ratio('/bin/true --chroot /, cold', '/bin/true --chroot /, warm', '/bin/true: cold / warm');
ratio('jail --version, cold', 'jail --version, warm', '--version: cold / warm');
ratio('playground line, warm', 'playground line, nsjail', 'playground warm / nsjail (<= 1.5)');
ratio('/bin/true --chroot /, warm', '/bin/true --chroot /, nsjail', '/bin/true warm / nsjail');
if (!process.env.NSJAIL) console.log('  nsjail: not measured (set NSJAIL=/path/to/nsjail)');
