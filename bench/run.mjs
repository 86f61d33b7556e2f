#!/usr/bin/env node
// Start-up cost of one jail, measured in one run against the floors and the peers:
//   - `node -e 0` (Node's own start-up: the floor of any Node CLI)
//   - `jail -Q --chroot / -- /bin/true` (this CLI, all default namespaces)
//   - `bwrap --unshare-all --ro-bind / / /bin/true` (bubblewrap, a C program)
//   - `unshare` with the same namespaces as jail
//   - `/bin/true` spawned directly (fork+exec floor of this machine)
//   - the playground line, `jail --config examples/python-playground.cfg -- python3 -c pass`,
//     against `python3 -c pass` bare, and `jail --version`
//   - nsjail on the same lines when NSJAIL=/path/to/nsjail is set (it is not packaged; build it
//     from its source by hand)
//   - run() of /bin/true in one process: sequential, and N concurrent
// and the memory of the supervising process. Targets (issue 2): the CLI at most 15 ms over
// `node -e 0`; one run() at most 5 ms median.
//
// Usage: npm run build && [NSJAIL=/path/to/nsjail] node bench/run.mjs [--runs N]   (root, or user namespaces enabled)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const argRuns = process.argv.indexOf('--runs');
const RUNS = argRuns > 0 ? Number(process.argv[argRuns + 1]) : 40;
const SEQUENTIAL = 200;
const CONCURRENT = 50;

const stats = (samples) => {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { median: at(0.5), p10: at(0.1), p90: at(0.9), n: s.length };
};
const fmt = (ms) => `${ms.toFixed(2)} ms`;

function timeCommand(argv) {
  const samples = [];
  for (let i = 0; i < RUNS + 3; i++) {
    const t = process.hrtime.bigint();
    const r = spawnSync(argv[0], argv.slice(1), { stdio: 'ignore' });
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    if (r.status !== 0) return { error: `exit ${r.status ?? r.signal}` };
    if (i >= 3) samples.push(ms); // the first runs warm the page cache
  }
  return stats(samples);
}

function which(name) {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

const rows = [];
const add = (name, result) => rows.push([name, result]);

add('/bin/true (spawn floor)', timeCommand(['/bin/true']));
add('node -e 0', timeCommand([process.execPath, '-e', '0']));
add('jail -Q --chroot / -- /bin/true', timeCommand([process.execPath, join(root, 'bin/jail'), '-Q', '--chroot', '/', '--', '/bin/true']));
if (which('bwrap')) add('bwrap --unshare-all --ro-bind / / /bin/true', timeCommand(['bwrap', '--unshare-all', '--ro-bind', '/', '/', '/bin/true']));
else add('bwrap', { error: 'not installed (apt-get install bubblewrap)' });
const jailBin = [process.execPath, join(root, 'bin/jail')];
const playground = ['--config', join(root, 'examples/python-playground.cfg'), '--', 'python3', '-c', 'pass'];
add('jail --version', timeCommand([...jailBin, '--version']));
add('/usr/bin/python3 -c pass (bare)', timeCommand(['/usr/bin/python3', '-c', 'pass']));
add('jail -Q --config python-playground.cfg -- python3 -c pass', timeCommand([...jailBin, '-Q', ...playground]));
if (process.env.NSJAIL) {
  add('nsjail -Q --chroot / -- /bin/true', timeCommand([process.env.NSJAIL, '-Q', '--chroot', '/', '--', '/bin/true']));
  add('nsjail -Q --config python-playground.cfg -- python3 -c pass', timeCommand([process.env.NSJAIL, '-Q', ...playground.map((a) => (a === 'python3' ? '/usr/bin/python3' : a))]));
} else {
  add('nsjail', { error: 'not measured (set NSJAIL=/path/to/nsjail)' });
}
add(
  'unshare -U -r -m -p -f -n -i -u -C --mount-proc /bin/true',
  timeCommand(['unshare', '--user', '--map-root-user', '--mount', '--pid', '--fork', '--net', '--ipc', '--uts', '--cgroup', '--mount-proc', '/bin/true']),
);

// In-process run() calls: the library path a pipeline uses.
const jail = require(join(root, 'dist/index.js'));
const config = { mount: [{ src: '/', dst: '/', is_bind: true }], mount_proc: true };
const once = async () => {
  const t = process.hrtime.bigint();
  const r = await jail.run({ command: ['/bin/true'], config, stdout: 'ignore', stderr: 'ignore' });
  if (r.outcome !== 'exited' || r.exitCode !== 0) throw new Error(`run() failed: ${JSON.stringify(r)}`);
  return Number(process.hrtime.bigint() - t) / 1e6;
};
for (let i = 0; i < 10; i++) await once();
const rssBefore = process.memoryUsage().rss;
const seq = [];
for (let i = 0; i < SEQUENTIAL; i++) seq.push(await once());
add(`run() /bin/true, ${SEQUENTIAL} sequential`, stats(seq));
const t0 = process.hrtime.bigint();
const conc = await Promise.all(Array.from({ length: CONCURRENT }, once));
const wall = Number(process.hrtime.bigint() - t0) / 1e6;
add(`run() /bin/true, ${CONCURRENT} concurrent (latency)`, stats(conc));
const rssAfter = process.memoryUsage().rss;

const width = Math.max(...rows.map(([n]) => n.length));
console.log(`jail start-up benchmark (${RUNS} runs per command; ${process.platform} ${process.arch}, node ${process.version})`);
console.log(`${'command'.padEnd(width)}  median      p10        p90`);
for (const [name, r] of rows) {
  if (r.error) console.log(`${name.padEnd(width)}  ${r.error}`);
  else console.log(`${name.padEnd(width)}  ${fmt(r.median).padEnd(10)}  ${fmt(r.p10).padEnd(9)}  ${fmt(r.p90)}`);
}
const get = (prefix) => rows.find(([n]) => n.startsWith(prefix))?.[1];
const cli = get('jail -Q');
const node = get('node -e 0');
if (cli?.median && node?.median) console.log(`\nCLI over node -e 0: ${fmt(cli.median - node.median)} (target <= 15 ms)`);
const line = get('jail -Q --config');
const bare = get('/usr/bin/python3 -c pass');
const nsjailLine = get('nsjail -Q --config');
if (line?.median && bare?.median) console.log(`playground line: ${fmt(line.median)}, ${(line.median / bare.median).toFixed(1)}x python3 bare${nsjailLine?.median ? `, ${(line.median / nsjailLine.median).toFixed(2)}x nsjail (target <= 1.5x)` : ''}`);
console.log(`run() median: ${fmt(stats(seq).median)} (target <= 5 ms); ${CONCURRENT} concurrent: ${fmt(wall)} wall, ${fmt(wall / CONCURRENT)} per jail`);
console.log(`supervisor RSS: ${(rssBefore / 2 ** 20).toFixed(1)} MiB before, ${(rssAfter / 2 ** 20).toFixed(1)} MiB after ${SEQUENTIAL + CONCURRENT} jails; heap used ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(1)} MiB`);
if (!existsSync(join(root, 'dist/index.js'))) console.log('(run `npm run build` first)');
