#!/usr/bin/env node
// What a jail's cgroups cost: run() of /bin/true in one process, interleaved, with
//   - no cgroup (the plan's cgroup taken out: what a host without usable cgroups gets)
//   - the default cgroup (no limits: accounting and kill-all; v1: memory, cpuacct, freezer)
//   - limits (--memory 256M --pids 64 --cpus 1: v1 adds pids and cpu)
// plus the parts alone: planning the cgroup (reading mountinfo and cgroup files), and the
// session without a jail (create, limits, kill, read back, remove).
//
// Usage: npm run build && node bench/cgroup.mjs [--runs N]   (root)
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const dist = (p) => require(join(root, 'dist', p));
const { planJail } = dist('run.js');
const { supervise } = dist('supervisor/supervise.js');
const { openStdio } = dist('supervisor/stdio.js');
const { openCgroupSession } = dist('cgroup/session.js');
const { silentLogger } = dist('supervisor/log.js');
const { loadAddon } = dist('native/addon.js');
const { planCgroup } = dist('cgroup/plan.js');
const { realHost } = dist('sandbox/host.js');
const { configFromObject } = dist('config/load.js');

const argRuns = process.argv.indexOf('--runs');
const RUNS = argRuns > 0 ? Number(process.argv[argRuns + 1]) : 200;
const addon = loadAddon();

const stats = (samples) => {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { median: at(0.5), p10: at(0.1), p90: at(0.9) };
};
const ms = (t) => Number(process.hrtime.bigint() - t) / 1e6;

const base = { mount: [{ src: '/', dst: '/', is_bind: true }], mount_proc: true };
const limits = { ...base, cgroup_mem_max: 256 * 2 ** 20, cgroup_pids_max: 64, cgroup_cpu_ms_per_sec: 1000 };

async function once(config, withCgroup) {
  const t = process.hrtime.bigint();
  const planned = planJail({ command: ['/bin/true'], config });
  if (!withCgroup) planned.plan.cgroup = null;
  const stdio = openStdio(addon, { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore', maxOutputBytes: 0 });
  const { report } = await supervise(addon, planned, { timeLimit: 0, stdio, log: silentLogger, drainMs: 0 });
  if (report.outcome !== 'exited' || report.exitCode !== 0) throw new Error(`run failed: ${JSON.stringify(report)}`);
  return ms(t);
}

const variants = [
  ['no cgroup', base, false],
  ['default cgroup (no limits)', base, true],
  ['memory + pids + cpu limits', limits, true],
];
const samples = variants.map(() => []);
for (let i = 0; i < 10; i++) for (const [, c, w] of variants) await once(c, w);
// Interleaved, so drift in the machine's load hits every variant alike.
for (let i = 0; i < RUNS; i++) {
  for (let v = 0; v < variants.length; v++) samples[v].push(await once(variants[v][1], variants[v][2]));
}

const host = realHost();
const planSamples = [];
const sessionSamples = [];
for (let i = 0; i < RUNS; i++) {
  const loaded = configFromObject(limits);
  let t = process.hrtime.bigint();
  const plan = planCgroup(loaded, host);
  planSamples.push(ms(t));
  t = process.hrtime.bigint();
  const session = openCgroupSession(addon, plan, silentLogger);
  session.killAll();
  await session.finish();
  sessionSamples.push(ms(t));
}

const version = planCgroup(configFromObject(base), host)?.version ?? 'none';
console.log(`cgroup cost per run() of /bin/true (cgroup v${version}; ${RUNS} runs each, interleaved; node ${process.version})`);
const fmt = (x) => `${x.toFixed(2)} ms`;
const none = stats(samples[0]).median;
for (let v = 0; v < variants.length; v++) {
  const s = stats(samples[v]);
  const extra = v === 0 ? '' : `  (+${fmt(s.median - none)})`;
  console.log(`  ${variants[v][0].padEnd(28)} median ${fmt(s.median).padEnd(9)} p10 ${fmt(s.p10).padEnd(9)} p90 ${fmt(s.p90)}${extra}`);
}
const p = stats(planSamples);
const q = stats(sessionSamples);
console.log(`  planCgroup() alone (limits)  median ${fmt(p.median).padEnd(9)} p10 ${fmt(p.p10).padEnd(9)} p90 ${fmt(p.p90)}`);
console.log(`  session alone (limits)       median ${fmt(q.median).padEnd(9)} p10 ${fmt(q.p10).padEnd(9)} p90 ${fmt(q.p90)}  (create, write, kill, read, remove; no jail)`);
