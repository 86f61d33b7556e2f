#!/usr/bin/env node
// Boxes (issue 14) against their targets, in one run, on a state directory of its own:
//   - `box exec` of /bin/true into a running box through the library (median; target <= 5 ms),
//     and through the CLI against `jail --version` (the CLI's start-up; target: + <= 5 ms), cold
//     (node bin/jail) and warm (build/Release/jail_client with a `jail warm` server)
//   - `box create` + `start` from an image (median; target <= 100 ms), and `stop`
//   - readFile / writeFile of 4 KiB through the library (median; target <= 1 ms)
//   - 20 idle boxes at once: PSS of each box's supervisor and init (target <= 2 MiB per box)
// The image is a copy of the host's /bin/sh and its libraries (no download). Everything it
// makes is removed at the end.
//
// Usage: npm run build && node bench/box.mjs [--runs N]   (root, or user namespaces enabled)
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { existsSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, chmodSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const argRuns = process.argv.indexOf('--runs');
const RUNS = argRuns > 0 ? Number(process.argv[argRuns + 1]) : 200;
const tmp = mkdtempSync(join(tmpdir(), 'jail-bench-box-'));
chmodSync(tmp, 0o755);
process.env.JAIL_STATE_DIR = join(tmp, 'state');
const { box } = require(join(root, 'dist', 'index.js'));
const jail = join(root, 'bin', 'jail');

const median = (s) => [...s].sort((a, b) => a - b)[Math.floor(s.length / 2)];
const ms = (t) => Number(process.hrtime.bigint() - t) / 1e6;
const fmt = (v) => `${v.toFixed(2)} ms`;

function image(name) {
  const dir = join(process.env.JAIL_STATE_DIR, 'images', name, 'rootfs');
  for (const p of ['/bin/sh', '/bin/true']) {
    const real = realpathSync(p);
    const libs = execFileSync('ldd', [real], { encoding: 'utf8' }).split('\n').map((l) => /(\/\S+) \(0x/.exec(l)?.[1]).filter(Boolean);
    for (const f of [real, ...libs]) {
      mkdirSync(dirname(join(dir, f)), { recursive: true });
      copyFileSync(f, join(dir, f));
      chmodSync(join(dir, f), 0o755);
    }
    mkdirSync(join(dir, 'bin'), { recursive: true });
    copyFileSync(real, join(dir, 'bin', p.slice(5)));
    chmodSync(join(dir, 'bin', p.slice(5)), 0o755);
  }
}

function pss(pid) {
  return Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))[1]) / 1024;
}

const results = {};
try {
  image('mini');
  const uid = process.getuid() === 0 ? { uid: 1000, gid: 1000 } : {};

  // create + start from an image, then stop
  const up = [];
  const down = [];
  for (let i = 0; i < 12; i++) {
    const t = process.hrtime.bigint();
    await box.create(`c${i}`, { image: 'mini', ...uid });
    await box.start(`c${i}`);
    if (i >= 2) up.push(ms(t));
    const s = process.hrtime.bigint();
    await box.stop(`c${i}`);
    if (i >= 2) down.push(ms(s));
    await box.rm(`c${i}`);
  }
  results['create + start from an image (library)'] = fmt(median(up));
  results['stop (library)'] = fmt(median(down));

  await box.create('b', { image: 'mini', ...uid });
  await box.start('b');
  const execs = [];
  for (let i = 0; i < RUNS + 10; i++) {
    const t = process.hrtime.bigint();
    const r = await box.exec('b', ['/bin/true']);
    if (r.exitCode !== 0) throw new Error(`exec: ${JSON.stringify(r)}`);
    if (i >= 10) execs.push(ms(t));
  }
  results['box exec /bin/true (library)'] = fmt(median(execs));

  const cli = (argv, program = [process.execPath, jail], env = process.env) => {
    const s = [];
    for (let i = 0; i < 23; i++) {
      const t = process.hrtime.bigint();
      const r = spawnSync(program[0], [...program.slice(1), ...argv], { stdio: 'ignore', env });
      if (r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status}`);
      if (i >= 3) s.push(ms(t));
    }
    return median(s);
  };
  const version = cli(['--version']);
  const exec = cli(['box', 'exec', 'b', '--', '/bin/true']);
  results['jail --version (CLI start-up)'] = fmt(version);
  results['jail box exec b -- /bin/true (CLI)'] = `${fmt(exec)} (+${fmt(exec - version)})`;
  // Warm: a `jail warm` server on a private socket; JAIL_CLI names nothing, so no run can go cold.
  mkdirSync(join(tmp, 'warm'), { mode: 0o700 });
  const warmEnv = { ...process.env, JAIL_WARM_SOCKET: join(tmp, 'warm', 'warm.sock'), JAIL_CLI: join(tmp, 'no-cli') };
  const server = spawn(process.execPath, [jail, 'warm', '-q', '--socket', warmEnv.JAIL_WARM_SOCKET], { env: warmEnv, stdio: 'ignore' });
  try {
    for (let i = 0; i < 200 && !existsSync(warmEnv.JAIL_WARM_SOCKET); i++) await new Promise((r) => setTimeout(r, 25));
    const client = [join(root, 'build', 'Release', 'jail_client')];
    const warmVersion = cli(['--version'], client, warmEnv);
    const warmExec = cli(['box', 'exec', 'b', '--', '/bin/true'], client, warmEnv);
    results['jail_client --version (warm start-up)'] = fmt(warmVersion);
    results['jail_client box exec b -- /bin/true (warm)'] = `${fmt(warmExec)} (+${fmt(warmExec - warmVersion)})`;
  } finally {
    server.kill('SIGTERM');
  }

  const data = Buffer.alloc(4096, 'x');
  const writes = [];
  const reads = [];
  for (let i = 0; i < RUNS + 10; i++) {
    let t = process.hrtime.bigint();
    box.writeFile('b', '/home/user/f', data);
    if (i >= 10) writes.push(ms(t));
    t = process.hrtime.bigint();
    if (box.readFile('b', '/home/user/f').length !== 4096) throw new Error('readFile');
    if (i >= 10) reads.push(ms(t));
  }
  results['writeFile 4 KiB (library)'] = fmt(median(writes));
  results['readFile 4 KiB (library)'] = fmt(median(reads));
  await box.stop('b');

  // 20 idle boxes
  for (let i = 0; i < 20; i++) {
    await box.create(`idle${i}`, { image: 'mini', ...uid });
    await box.start(`idle${i}`);
  }
  await new Promise((r) => setTimeout(r, 500));
  const per = [];
  for (const info of await box.list()) {
    if (!info.name.startsWith('idle')) continue;
    const state = JSON.parse(readFileSync(join(process.env.JAIL_STATE_DIR, 'boxes', info.name, 'run', 'state.json'), 'utf8'));
    per.push(pss(state.supervisorPid) + pss(info.initPid));
  }
  results['20 idle boxes: supervisor + init PSS per box'] = `${median(per).toFixed(2)} MiB median, ${Math.max(...per).toFixed(2)} MiB max`;
} finally {
  for (const name of readdirSync(join(process.env.JAIL_STATE_DIR, 'boxes'))) await box.rm(name, { force: true }).catch(() => undefined);
  rmSync(tmp, { recursive: true, force: true });
}
for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(48)} ${v}`);
